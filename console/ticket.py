"""The order ticket: fields, inline errors, then a confirm step showing the notional.

The screen builds an :class:`OrderIntent` and asks the injected ``check``
function (the order service's checks) what is wrong with it; it sends
nothing itself: it dismisses with the confirmed intent and the App submits it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from panes.keys import bindings
from services.events import OrderIntent, OrderKind, Side, Violation
from services.instruments import Instrument

FIELDS = ("symbol", "qty", "price")


@dataclass(frozen=True)
class TicketDefaults:
    vt_symbol: str
    side: str
    qty: int
    price: float | None
    kind: str = "limit"


Checker = Callable[[OrderIntent], list[Violation]]
Refused = Callable[[OrderIntent, list[Violation]], None]
Estimator = Callable[[OrderIntent], tuple[float, float]]
Resolver = Callable[[str], Instrument | None]
Quote = Callable[[str, str], float | None]  # (vt_symbol, side) -> the touch price, or None


class TicketScreen(ModalScreen[OrderIntent | None]):
    """Edit → (enter) check → confirm step → (enter) dismiss with the intent."""

    BINDINGS = bindings("ticket")

    def __init__(
        self,
        defaults: TicketDefaults,
        check: Checker,
        estimate: Estimator,
        resolve: Resolver,
        refused: Refused | None = None,
        clock: Callable[[], datetime] = datetime.now,
        venue: str = "",
        quote: Quote | None = None,
    ) -> None:
        super().__init__()
        self.quote = quote  # a ticket opened before the first quote takes its price from it
        self._auto_price = defaults.price is None  # until the trader types a price
        self._filled_price = ""
        self.clock = clock  # the market's clock (a replay's own): stamps the intent
        self.venue = venue  # where the order goes: "LIVE s1", "PAPER", ...
        self.defaults = defaults
        self.check = check
        self.refused = refused  # a complete order the checks refused: journaled and shown
        self.estimate = estimate
        self.resolve = resolve
        self.pending: OrderIntent | None = None  # set in the confirm step
        self.errors: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        d = self.defaults
        with Vertical(id="ticket"):
            yield Label("", id="title")
            yield Static("", id="err-state", classes="error", markup=False)
            with Horizontal(classes="row"):
                yield Label("Symbol", classes="label")
                yield Input(d.vt_symbol, id="symbol", compact=True)
            yield Static("", id="err-symbol", classes="error", markup=False)
            with Horizontal(classes="row"):
                yield Label("Side", classes="label")
                with RadioSet(id="side", compact=True):
                    yield RadioButton("Buy", value=d.side == "buy", id="side-buy")
                    yield RadioButton("Sell", value=d.side == "sell", id="side-sell")
            with Horizontal(classes="row"):
                yield Label("Type", classes="label")
                with RadioSet(id="kind", compact=True):
                    yield RadioButton("Limit", value=d.kind == "limit", id="kind-limit")
                    yield RadioButton("Market", value=d.kind == "market", id="kind-market")
            with Horizontal(classes="row"):
                yield Label("Quantity", classes="label")
                yield Input(
                    str(d.qty),
                    id="qty",
                    placeholder="shares, lots of 100",
                    compact=True,
                )
            yield Static("", id="err-qty", classes="error", markup=False)
            with Horizontal(classes="row"):
                yield Label("Price", classes="label")
                yield Input(
                    "" if d.price is None else f"{d.price:g}",
                    id="price",
                    placeholder="no quote yet: the first one fills it, or type a price",
                    compact=True,
                )
            yield Static("", id="err-price", classes="error", markup=False)
            yield Static("", id="summary")
            with Horizontal(id="buttons"):
                yield Button("Review", id="review", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        for widget in self.query(".error"):
            widget.display = False
        self._refresh_title()
        self.query_one("#price", Input).disabled = self.defaults.kind == "market"
        self.query_one("#qty", Input).focus()

    # -- reading the form ------------------------------------------------------------------
    @property
    def side(self) -> Side:
        return "buy" if self.query_one("#side-buy", RadioButton).value else "sell"

    @property
    def kind(self) -> OrderKind:
        return "limit" if self.query_one("#kind-limit", RadioButton).value else "market"

    def build_intent(self) -> tuple[OrderIntent | None, dict[str, str]]:
        """The intent the form describes, or the field errors that prevent one."""
        errors: dict[str, str] = {}
        symbol_text = self.query_one("#symbol", Input).value
        inst = self.resolve(symbol_text)
        vt_symbol = inst.vt_symbol if inst else symbol_text.strip()
        qty_text = self.query_one("#qty", Input).value.strip().replace(",", "")
        qty = int(qty_text) if qty_text.isdigit() else 0
        if not qty_text.isdigit():
            errors["qty"] = f"Quantity must be a whole number of shares, got {qty_text!r}."
        price: float | None = None
        if self.kind == "limit":
            price_text = self.query_one("#price", Input).value.strip().replace(",", "")
            try:
                price = float(price_text)
            except ValueError:
                errors["price"] = (
                    f"No quote for {vt_symbol} yet: type a limit price (or wait for the quote)."
                    if not price_text
                    else f"Price must be a number, got {price_text!r}."
                )
        intent = OrderIntent(
            uuid.uuid4().hex[:12],
            vt_symbol,
            self.side,
            self.kind,
            qty,
            price,
            created_at=self.clock(),
        )
        violations = self.check(intent)
        if violations and not errors and self.refused is not None:
            self.refused(intent, violations)  # a send the checks refused, not a typo
        for v in violations:
            message = f"{v.rule}: {v.message}" if v.field == "risk" else v.message
            errors.setdefault(v.field if v.field in FIELDS else "state", message)
        return (None if errors else intent), errors

    # -- steps -----------------------------------------------------------------------------------
    def action_submit(self) -> None:
        if self.pending is not None:
            self.dismiss(self.pending)
            return
        intent, self.errors = self.build_intent()
        for name in (*FIELDS, "state"):
            widget = self.query_one(f"#err-{name}", Static)
            widget.update(self.errors.get(name, ""))
            widget.display = name in self.errors
        if intent is None:
            return
        notional, fees = self.estimate(intent)
        inst = self.resolve(intent.vt_symbol)
        name = inst.name if inst else ""
        at = f"@ {intent.price:,.{inst.decimals if inst else 2}f}" if intent.price else "at market"
        self.pending = intent
        total = notional + fees if intent.side == "buy" else notional - fees
        self.query_one("#summary", Static).update(
            Text.assemble(  # plain pieces: a name is shown as the source sent it
                (f"{intent.side.upper()} {intent.qty:,} {intent.vt_symbol} {name} ", "bold"),
                (f"{intent.kind.upper()} {at}", "bold"),
                f"\nNotional {notional:,.2f} CNY · est. fees {fees:,.2f} · total {total:,.2f}\n",
                ("enter", "bold"),
                " to send · ",
                ("esc", "bold"),
                " to edit",
            )
        )
        self.set_class(True, "-confirm")
        for field in self.query(Input):
            field.disabled = True
        self.query_one("#review", Button).label = "Send"
        self.query_one("#review", Button).focus()

    def action_close(self) -> None:
        if self.pending is None:
            self.dismiss(None)
            return
        self.pending = None  # back to editing
        self.set_class(False, "-confirm")
        self.query_one("#summary", Static).update("")
        for field in self.query(Input):
            field.disabled = field.id == "price" and self.kind == "market"
        self.query_one("#review", Button).label = "Review"
        self.query_one("#qty", Input).focus()

    def action_toggle_side(self) -> None:
        target = "#side-sell" if self.side == "buy" else "#side-buy"
        self.query_one(target, RadioButton).value = True

    def action_toggle_kind(self) -> None:
        target = "#kind-market" if self.kind == "limit" else "#kind-limit"
        self.query_one(target, RadioButton).value = True

    def offer_quote(self) -> None:
        """A frame of quotes arrived: a limit ticket still without a price (opened before
        its symbol's first quote) takes the touch price, unless the trader typed one."""
        field = self.query_one("#price", Input)
        if not self._auto_price or self.quote is None or self.pending is not None:
            return
        if self.kind != "limit" or field.value.strip():
            return
        text = self.query_one("#symbol", Input).value
        inst = self.resolve(text)
        price = self.quote(inst.vt_symbol if inst else text.strip(), self.side)
        if price:
            self._filled_price = f"{price:g}"
            field.value = self._filled_price

    @on(Input.Changed, "#price")
    def _price_edited(self, event: Input.Changed) -> None:
        if event.value != self._filled_price:
            self._auto_price = False  # the trader's price stays theirs

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#review")
    def _review(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(RadioSet.Changed)
    def _changed(self) -> None:
        if self.pending is None:
            self.query_one("#price", Input).disabled = self.kind == "market"
        self._refresh_title()

    def _refresh_title(self) -> None:
        self.query_one("#title", Label).update(
            Text.assemble(
                ("Order ticket", "bold"),
                f" — {self.side.upper()}",
                *((" to ", (self.venue, "bold")) if self.venue else ()),
                " · ctrl+t side · ctrl+o type",
            )
        )
        self.set_class(self.side == "sell", "-sell")
