"""The DataTable that every pane builds on: rows keyed by an id, cursor on whole rows,
columns that give way by priority when the pane is narrow.

A pane declares its columns once (:class:`Col`: key, label, width, priority) and
hands whole rows to :meth:`KeyedTable.put` as ``{column: cell}``. The table shows
the columns that fit the pane's width -- priority 0 always, then 1, 2, ... a whole
priority at a time, in the declared order -- and says what it left out in its
subtitle. The cells of hidden columns are kept, so widening the terminal brings
them back filled. A number never loses digits to a narrow column: it is
abbreviated with a unit (``17,700`` → ``17.7k``) instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

NUMBER = re.compile(r"^([+-]?)([\d,]+(?:\.\d+)?)(%?)$")


@dataclass(frozen=True)
class Col:
    """One column: ``priority`` 0 is always shown; higher numbers give way first."""

    key: str
    label: str | Text
    width: int  # for a ``fill`` column: the least width worth showing
    priority: int = 0
    fill: bool = False  # takes the width left over (a note), cut with an ellipsis; at
    # priority 0 its least width is held before any other column is placed


def compact(text: str, width: int) -> str:
    """``text`` within ``width`` cells: a number is abbreviated (k, M, B), never cut;
    anything else is cut with an ellipsis, so the cut shows."""
    if cell_len(text) <= width:
        return text
    m = NUMBER.match(text.strip())
    if m is not None and not m.group(3):
        sign, digits = m.group(1), m.group(2).replace(",", "")
        value = float(digits)
        sep = "," if "," in m.group(2) else ""
        if "." in digits:  # fewer decimals first: 1467.785 → 1467.79 before 1.47k
            for decimals in range(len(digits.split(".")[1]) - 1, -1, -1):
                short = f"{sign}{value:{sep}.{decimals}f}"
                if cell_len(short) <= width:
                    return short
        for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
            if value >= size:
                for decimals in (2, 1, 0):
                    short = f"{sign}{value / size:.{decimals}f}{unit}"
                    if cell_len(short) <= width:
                        return short
    return text[: max(0, width - 1)] + "…"


def fit(cell: object, width: int) -> object:
    """A cell (str or Text) made to fit ``width`` by :func:`compact`, style kept. A str is
    shown as plain text, never read as markup: cells quote outside text (a broker's
    message, a symbol's name) and ``[/]`` in one must show as typed, not crash the UI."""
    if isinstance(cell, Text):
        plain = cell.plain
        if "\n" in plain:  # a two-line cell is laid out by its pane
            return cell
        short = compact(plain, width)
        if short == plain:
            return cell
        return Text(short, style=cell.style, justify=cell.justify)
    if isinstance(cell, str):
        return Text(cell if "\n" in cell else compact(cell, width))
    return cell


def subtitle(status: str, hidden: list[str], room: int) -> str:
    """A pane's subtitle: its status, then the columns it hid -- as many names as fit in
    ``room`` cells, the rest counted ("hidden: Name, Bid +3"), or only the count; never
    a bare "hidden: …" (a border cuts a long subtitle to an ellipsis). ``room`` 0: any."""
    if not hidden:
        return status
    notes = [f"hidden: {', '.join(hidden)}"]
    notes += [
        f"hidden: {', '.join(hidden[:k])} +{len(hidden) - k}" for k in range(len(hidden) - 1, 0, -1)
    ]
    notes += [f"{len(hidden)} columns hidden", f"{len(hidden)} hidden"]
    for note in notes:
        text = f"{status} · {note}" if status else note
        if not room or cell_len(text) <= room:
            return text
    return status or notes[-1]


def same(a: object, b: object) -> bool:
    """Whether two cells look the same: text, style, spans and alignment (rich's own
    ``Text.__eq__`` ignores the base style, so a colour flip would be missed)."""
    if isinstance(a, Text) and isinstance(b, Text):
        return (a.plain, str(a.style), a.spans, a.justify) == (
            b.plain,
            str(b.style),
            b.spans,
            b.justify,
        )
    return type(a) is type(b) and a == b


class KeyedTable(DataTable[object]):
    """A row-cursor, zebra-striped table whose rows are keyed by ``vt_symbol`` or order id."""

    COLUMNS: tuple[Col, ...] = ()
    ROW_HEIGHT = 1  # lines per row (the review queue's rows take two)

    def __init__(self, **kw: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kw)  # type: ignore[arg-type]
        self._row_cells: dict[str, dict[str, object]] = {}  # every column's cell, shown or not
        self.shown_columns: tuple[Col, ...] = ()
        self.status = ""  # the pane's own subtitle text; the table adds what it left out
        self._shown_subtitle = ""

    @property
    def selected_key(self) -> str | None:
        """The key of the row under the cursor (None when the table is empty)."""
        if not self.row_count or not self.columns:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return str(key) if key is not None else None

    # -- columns that fit ------------------------------------------------------------------
    def on_mount(self) -> None:
        if self.COLUMNS and not self.shown_columns:
            self._reshape(force=True)

    def on_resize(self, event: events.Resize) -> None:
        if self.COLUMNS:
            self._reshape()
        self._subtitle()  # the same columns may need fewer words in a narrower border

    def columns_for(self, width: int) -> tuple[Col, ...]:
        """The columns shown in ``width`` cells of content, in their declared order."""
        if width <= 0:
            return self.COLUMNS
        room = width - 1  # the vertical scrollbar
        pad = 2 * self.cell_padding
        chosen: set[str] = set()
        # a priority-0 fill column (the review queue's reason) is always shown: its least
        # width is held back before the other columns are placed
        held = sum(c.width + pad for c in self.COLUMNS if c.fill and c.priority == 0)
        used = held
        fixed = [c for c in self.COLUMNS if not c.fill]
        for priority in sorted({c.priority for c in fixed}):
            group = [c for c in fixed if c.priority == priority]
            need = sum(c.width + pad for c in group)
            if priority and used + need > room:
                continue  # a later, smaller group may still fit
            chosen.update(c.key for c in group)
            used += need
        used -= held
        out = []
        for c in self.COLUMNS:
            if c.fill:
                left = room - used - pad
                if left >= c.width:
                    out.append(replace(c, width=left))
                    used = room
            elif c.key in chosen:
                out.append(c)
        return tuple(out)

    def _reshape(self, force: bool = False) -> None:
        wanted = self.columns_for(self.content_size.width if self.is_mounted else 0)
        if wanted == self.shown_columns and not force:
            return
        selected = self.selected_key
        self.clear(columns=True)
        self.shown_columns = wanted
        for col in wanted:
            self.add_column(col.label, key=col.key, width=col.width)
        for key, cells in self._row_cells.items():
            self.add_row(*self._shown(cells), key=key, height=self.ROW_HEIGHT)
        if selected is not None and selected in self.rows:
            self.move_cursor(row=self.get_row_index(selected), animate=False)
        self._subtitle()

    @property
    def hidden(self) -> tuple[Col, ...]:
        shown = {c.key for c in self.shown_columns}
        return tuple(c for c in self.COLUMNS if c.key not in shown)

    def _subtitle(self) -> None:
        names = [
            c.label.plain.strip() if isinstance(c.label, Text) else c.label.strip()
            for c in self.hidden
        ]
        room = self.size.width - 6 if self.is_mounted and self.size.width else 0
        text = subtitle(self.status, names, room)
        if text != self._shown_subtitle:  # setting it repaints the whole table
            self._shown_subtitle = text
            self.border_subtitle = Text(text)  # plain: it quotes orders' notes

    def set_status(self, text: str) -> None:
        """The pane's own subtitle; the table appends the columns it had to hide."""
        self.status = text
        self._subtitle()

    # -- rows --------------------------------------------------------------------------------
    def _shown(self, cells: Mapping[str, object]) -> list[object]:
        return [fit(cells.get(c.key, ""), c.width) for c in self.shown_columns]

    def put(self, key: str, cells: Mapping[str, object]) -> None:
        """Add or update row ``key`` with ``{column: cell}`` (any columns, shown or not)."""
        if self.COLUMNS and not self.shown_columns:
            self._reshape(force=True)  # a row before the first layout: every column for now
        row = self._row_cells.setdefault(key, {})
        if key not in self.rows:
            row.update(cells)
            self.add_row(*self._shown(row), key=key, height=self.ROW_HEIGHT)
            return
        shown = {c.key: c for c in self.shown_columns}
        changed = False
        for column, value in cells.items():
            if column in row and same(row[column], value):
                continue  # unchanged: no repaint (most cells of most frames)
            row[column] = value
            col = shown.get(column)
            if col is not None:
                # DataTable.update_cell repaints the whole table for one cell; set the cell
                # and repaint its row only (textual is pinned exactly: these internals hold)
                self._data[RowKey(key)][ColumnKey(column)] = fit(value, col.width)
                changed = True
        if changed:
            self._update_count += 1  # the row render cache is keyed by it
            self.refresh_row(self.get_row_index(key))

    def set_columns(self, columns: tuple[Col, ...]) -> None:
        """Replace the declared columns (a table whose columns depend on what it shows)
        and every row; rows are then added with :meth:`put`."""
        self.COLUMNS = columns
        self._row_cells.clear()
        self._reshape(force=True)

    def clear_rows(self) -> None:
        """Remove every row (the columns stay)."""
        self._row_cells.clear()
        self.clear()

    def width_of(self, column: str) -> int:
        """The shown width of ``column`` (0 when it is hidden)."""
        return next((c.width for c in self.shown_columns if c.key == column), 0)

    def drop(self, key: str) -> None:
        """Remove row ``key``."""
        self._row_cells.pop(key, None)
        if key in self.rows:
            self.remove_row(key)

    def cell(self, key: str, column: str) -> object:
        """The latest cell of ``column`` in row ``key``, shown or hidden."""
        return self._row_cells[key][column]

    def column_index(self, column: str) -> int:
        """Where ``column`` is among the shown columns (it must be a priority-0 one)."""
        return [c.key for c in self.shown_columns].index(column)
