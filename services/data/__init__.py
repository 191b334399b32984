"""Market data: canonical bars, validation, adjustment, CSV import, sources and sync."""
