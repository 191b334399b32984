"""Background services and domain logic for quantdesk.

Nothing in this package imports Textual, ``console`` or ``panes``: an
import-linter contract and ``tests/unit/test_import_hygiene.py`` enforce it.
"""
