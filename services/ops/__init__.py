"""Operations: scheduled jobs, the control channel, the data directory, logging, secret
masking and the saved watchlist."""
