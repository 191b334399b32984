"""Records: the write-ahead order journal and the recovery that rebuilds state from it."""
