"""The config file's tables of tables and their shared builders: [alerts] with its
channels, [[accounts]], [[strategies]], [universes]; and the one way a section becomes
its frozen model (unknown keys and wrong types are errors naming file, section, key)."""

from __future__ import annotations

import difflib
import math
import typing
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from services.alerts.config import AlertsConfig, channel_from_table
from services.data.sync import resolve_universe
from services.settings import ConfigValueError
from services.trading.live import StrategySpec
from services.trading.risk import RiskConfig
from services.venues.accounts import AccountSpec


class ConfigError(Exception):
    """A config file that cannot be used; the message says where and what is expected."""


def parse_alerts(table: Any, source: str) -> AlertsConfig:
    """[alerts] with its [alerts.channels.NAME] tables and [alerts.severity]."""
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [alerts] must be a table")
    flat = {k: v for k, v in table.items() if k not in ("channels", "severity")}
    base: AlertsConfig = build(AlertsConfig, flat, source, "alerts")
    severity, channels = table.get("severity", {}), table.get("channels", {})
    if not isinstance(severity, dict) or not all(isinstance(v, str) for v in severity.values()):
        raise ConfigError(f'{source}: [alerts.severity] is a table of kind = "warning"')
    if not isinstance(channels, dict) or not all(isinstance(v, dict) for v in channels.values()):
        raise ConfigError(f"{source}: channels are [alerts.channels.NAME] tables")
    opened = []
    for name, entry in channels.items():
        try:
            opened.append(channel_from_table(name, entry))
        except ConfigValueError as exc:
            raise ConfigError(
                f"{source}: [alerts.channels.{name}] {exc.key}: {exc.detail}"
            ) from None
    try:
        return replace(base, severity=dict(severity), channels=tuple(opened))
    except ConfigValueError as exc:
        raise ConfigError(f"{source}: [alerts] {exc.key}: {exc.detail}") from None


def array_of_tables(
    entries: Any, source: str, name: str
) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """Each table of ``[[name]]`` with its number and where it is, for messages; anything
    else there is a ConfigError."""
    if not isinstance(entries, list):
        raise ConfigError(f"{source}: {name} must be [[{name}]] tables")
    for n, entry in enumerate(entries, 1):
        where = f"{source}: [[{name}]] #{n}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: must be a table")
        yield n, where, entry


def parse_accounts(entries: Any, source: str) -> tuple[AccountSpec, ...]:
    out: list[AccountSpec] = []
    for n, where, entry in array_of_tables(entries, source, "accounts"):
        reject_unknown(
            entry,
            {"id", "gateway", "settings", "secrets", "quotes", "risk"},
            source,
            f"accounts #{n}",
        )
        for key in ("id", "gateway"):
            if not isinstance(entry.get(key), str):
                raise ConfigError(f'{where}: {key} is required, e.g. {key} = "..."')
        for key in ("settings", "secrets", "risk"):
            if not isinstance(entry.get(key, {}), dict):
                raise ConfigError(f"{where} {key}: expected a table, e.g. {key} = {{ ... }}")
        bad = [k for k, v in entry.get("secrets", {}).items() if not isinstance(v, str)]
        if bad:
            raise ConfigError(f"{where} secrets.{bad[0]}: expected a secret's name")
        if any(a.id == entry["id"] for a in out):
            raise ConfigError(f"{where}: id {entry['id']!r} is used twice")
        # The account's own risk limits: [risk], with these keys replaced.
        limits = build(RiskConfig, entry.get("risk", {}), source, f"accounts #{n} risk")
        changed = {k: getattr(limits, k) for k in entry.get("risk", {})}
        try:
            out.append(
                AccountSpec(
                    entry["id"],
                    entry["gateway"],
                    dict(entry.get("settings", {})),
                    dict(entry.get("secrets", {})),
                    str(entry.get("quotes", "feed")),
                    changed,
                )
            )
        except ConfigValueError as exc:
            raise ConfigError(f"{where} {exc.key}: {exc.detail}") from None
    return tuple(out)


STRATEGY_KEYS = {
    "id": str,
    "strategy": str,
    "symbols": list,
    "params": dict,
    "freq": str,
    "size": float,
    "sizing": str,
    "auto_approve": bool,
    "enabled": bool,
    "stop_loss": float,
    "take_profit": float,
    "trailing_stop": float,
}


def parse_strategies(entries: Any, source: str) -> tuple[StrategySpec, ...]:
    out: list[StrategySpec] = []
    for n, where, entry in array_of_tables(entries, source, "strategies"):
        reject_unknown(entry, set(STRATEGY_KEYS), source, f"[strategies] #{n}")
        for key in ("id", "strategy", "symbols"):
            if key not in entry:
                raise ConfigError(f"{where}: {key} is required")
        for key, kind in STRATEGY_KEYS.items():
            value = entry.get(key)
            accepted = (int, float) if kind is float else kind  # 0 is a fine fraction
            if value is not None and (
                not isinstance(value, accepted) or isinstance(value, bool) != (kind is bool)
            ):
                expected = "a number" if kind is float else kind.__name__
                raise ConfigError(f"{where} {key}: expected {expected}, got {value!r}")
        bad = [k for k, v in entry.get("params", {}).items() if not _finite_number(v)]
        if bad:
            raise ConfigError(f"{where} params.{bad[0]}: expected a finite number")
        for key in ("size", "stop_loss", "take_profit", "trailing_stop"):
            if key in entry and not _finite_number(entry[key]):
                raise ConfigError(f"{where} {key}: expected a finite number, got {entry[key]!r}")
        if any(s.id == entry["id"] for s in out):
            raise ConfigError(f"{where}: id {entry['id']!r} is used twice")
        try:
            symbols = tuple(resolve_universe(",".join(entry["symbols"])))
            spec = StrategySpec(
                id=entry["id"],
                strategy=entry["strategy"],
                symbols=symbols,
                params={k: float(v) for k, v in entry.get("params", {}).items()},
                freq=entry.get("freq", "1m"),
                size=float(entry.get("size", 100)),
                sizing=entry.get("sizing", "shares"),
                auto_approve=entry.get("auto_approve", False),
                enabled=entry.get("enabled", True),
                stop_loss=float(entry.get("stop_loss", 0.0)),
                take_profit=float(entry.get("take_profit", 0.0)),
                trailing_stop=float(entry.get("trailing_stop", 0.0)),
            )
            spec.check()
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{where} ({entry['id']}): {exc}") from None
        out.append(spec)
    return tuple(out)


def _finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def parse_universes(table: Any, source: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(table, dict):
        raise ConfigError(f'{source}: [universes] must be a table of name = ["600519.SSE", ...]')
    out: dict[str, tuple[str, ...]] = {}
    for name, symbols in table.items():
        where = f"{source}: [universes] {name}"
        if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
            raise ConfigError(f'{where}: expected a list of symbols like ["600519.SSE"]')
        try:
            out[name] = tuple(resolve_universe(",".join(symbols)))
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return out


def reject_unknown(table: dict[str, Any], known: set[str], source: str, section: str) -> None:
    for key in table:
        if key not in known:
            where = f"[{section}] " if section else ""
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"{source}: {where}unknown key {key!r}{hint}; "
                f"expected one of: {', '.join(sorted(known))}"
            )


def build(cls: type, table: dict[str, Any], source: str, section: str) -> Any:
    hints = typing.get_type_hints(cls)
    reject_unknown(table, set(hints), source, section)
    values = {k: coerce(v, hints[k], f"{source}: [{section}] {k}") for k, v in table.items()}
    try:
        return cls(**values)
    except ConfigValueError as exc:
        raise ConfigError(f"{source}: [{section}] {exc.key}: {exc.detail}") from None


def coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):  # TOML reads inf and nan
                raise ConfigError(f"{where}: expected a finite number, got {value!r}")
            return float(value)
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected a whole number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    if origin is tuple:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
    raise ConfigError(f"{where}: unsupported field type {hint}")
