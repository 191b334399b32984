"""Backtests: market rules, the numba kernel, engine, metrics, optimisation, saved runs."""
