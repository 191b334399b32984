"""Small modal screens: yes/no confirmation, typed re-arm, add symbol, help."""

from __future__ import annotations

from collections.abc import Callable

from rich.markup import escape
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from panes.keys import KEYS
from services.trading.control import REARM_WORD


class ConfirmScreen(ModalScreen[bool]):
    """A question answered with y / n (or the buttons)."""

    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str | Text, yes: str = "Yes", no: str = "No") -> None:
        """``question``: our own markup (str), or a Text when it quotes outside text."""
        super().__init__()
        self.question, self.yes, self.no = question, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question)
            with Horizontal(classes="buttons"):
                yield Button(f"{self.yes} (y)", id="yes", variant="error")
                yield Button(f"{self.no} (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class TextPromptScreen(ModalScreen[str | None]):
    """One input; ``validate`` returns an error message or "" to accept."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self, prompt: str | Text, validate: Callable[[str], str], placeholder: str = ""
    ) -> None:
        """``prompt``: our own markup (str), or a Text when it quotes outside text."""
        super().__init__()
        self.prompt, self.validate, self.placeholder = prompt, validate, placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.prompt)
            yield Input(placeholder=self.placeholder, id="prompt-input")
            yield Static("", id="prompt-error", classes="error", markup=False)  # quotes input

    def on_mount(self) -> None:
        self.query_one("#prompt-error", Static).display = False
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        error = self.validate(event.value)
        if error:
            widget = self.query_one("#prompt-error", Static)
            widget.update(error)
            widget.display = True
            return
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


def rearm_prompt() -> TextPromptScreen:
    def validate(text: str) -> str:
        return "" if text.strip() == REARM_WORD else f"Type {REARM_WORD} exactly (got {text!r})."

    return TextPromptScreen(
        f"[b]Re-arm trading?[/b]\nOrders will be accepted again. Type [b]{REARM_WORD}[/b] and "
        "press enter, or esc to stay HALTED.",
        validate,
        placeholder=REARM_WORD,
    )


class HelpScreen(ModalScreen[None]):
    """Every key, by where it works; remap any of them by id under [keys] in config.toml."""

    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss_help", "Close")]

    def __init__(self, keymap: dict[str, str]) -> None:
        super().__init__()
        self.keymap = keymap

    def compose(self) -> ComposeResult:
        table = Table(expand=True, box=None, header_style="bold", pad_edge=False)
        table.add_column("Where", style="cyan", width=10)
        table.add_column("Key", style="bold", width=22)
        table.add_column("Does")
        table.add_column(escape("id (for [keys])"), style="dim")  # [keys] is not markup
        for key in KEYS:
            shown = self.keymap.get(key.id, key.key).replace("question_mark", "?")
            table.add_row(key.scope, shown, key.description, key.id)
        table.add_row("global", "ctrl+p", "Command palette (main actions)", "")
        table.add_row("global", "tab / shift+tab", "Next / previous pane", "")
        table.add_row("confirm", "y / n", "Answer a confirmation", "")
        with VerticalScroll(classes="dialog help"):
            yield Label("[b]quantdesk keys[/b] — esc to close")
            yield Static(table)

    def action_dismiss_help(self) -> None:
        self.dismiss(None)


class TableScreen(ModalScreen[None]):
    """A read-only table in a dialog (esc closes)."""

    BINDINGS = [Binding("escape,q", "close", "Close")]

    def __init__(self, title: str, rows: list[dict[str, str]], empty: str) -> None:
        super().__init__()
        self.title_text, self.rows, self.empty = title, rows, empty

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help"):
            if not self.rows:
                yield Static(f"[b]{escape(self.title_text)}[/b]\n{escape(self.empty)}")
                return
            table = Table(*self.rows[0], title=Text(self.title_text), title_justify="left")
            for row in self.rows:
                table.add_row(*(escape(str(v)) for v in row.values()))
            yield Static(table)

    def action_close(self) -> None:
        self.dismiss(None)
