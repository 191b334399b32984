"""Number formatting and the text sparkline shared by the panes."""

from __future__ import annotations

from rich.text import Text

from services.clock import EXCHANGE_LABEL, EXCHANGE_TZ, cst, exchange_time

__all__ = ["EXCHANGE_LABEL", "EXCHANGE_TZ", "cst", "exchange_time"]

BARS = "▁▂▃▄▅▆▇█"


class Palette:
    """Colours of rising and falling numbers. A-share screens show gains in red and
    losses in green ("cn", the default); "intl" swaps them."""

    up = "red"
    down = "green"

    @classmethod
    def use(cls, convention: str) -> None:
        cls.up, cls.down = ("red", "green") if convention == "cn" else ("green", "red")


palette = Palette


def count(n: int, noun: str, plural: str = "") -> str:
    """``1 order``, ``2 orders``, ``12,000 orders``: a number with its noun agreeing."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def money(value: float) -> str:
    return f"{value:,.2f}"


def signed(value: float, decimals: int = 2) -> Text:
    """A signed number coloured by sign."""
    text = f"{value:+,.{decimals}f}"
    style = f"bold {palette.up}" if value > 0 else f"bold {palette.down}" if value < 0 else ""
    return Text(text, style=style, justify="right")


def pct(value: float) -> Text:
    text = f"{value * 100:+.2f}%"
    style = palette.up if value > 0 else palette.down if value < 0 else ""
    return Text(text, style=style, justify="right")


def volume(shares: float) -> str:
    """Shares in 万 (10^4) or 亿 (10^8) as Chinese quote screens show them."""
    if shares >= 1e8:
        return f"{shares / 1e8:.2f}亿"
    if shares >= 1e4:
        return f"{shares / 1e4:.1f}万"
    return f"{shares:,.0f}"


def sparkline(values: list[float], width: int) -> str:
    """Block-character sparkline of the last ``width`` values (flat line when constant)."""
    values = values[-width:]
    if not values:
        return ""
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12:
        return BARS[3] * len(values)
    scale = (len(BARS) - 1) / (hi - lo)
    return "".join(BARS[int((v - lo) * scale)] for v in values)


def right(value: str, style: str = "") -> Text:
    return Text(value, style=style, justify="right")
