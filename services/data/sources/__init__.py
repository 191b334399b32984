"""Data sources behind one small interface; one module per source."""

from services.data.sources.base import Kind, Source, SourceError, kind_of

__all__ = ["Kind", "Source", "SourceError", "kind_of"]
