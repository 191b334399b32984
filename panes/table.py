"""The DataTable that every pane builds on: rows keyed by an id, cursor on whole rows."""

from __future__ import annotations

from textual.widgets import DataTable


class KeyedTable(DataTable[object]):
    """A row-cursor, zebra-striped table whose rows are keyed by ``vt_symbol`` or order id."""

    def __init__(self, **kw: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kw)  # type: ignore[arg-type]

    @property
    def selected_key(self) -> str | None:
        """The key of the row under the cursor (None when the table is empty)."""
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return str(key) if key is not None else None
