"""Accounting: the ledger (positions, cash, T+1), costs and fees, the marked portfolio."""
