"""Pure signal functions shared by backtests and the live runner (numpy/pandas only)."""
