"""config.toml → typed, frozen models; every error names the file, key and expectation.

Precedence: ``--config`` > ``QUANTDESK_CONFIG`` > ``<data dir>/config.toml``
> built-in defaults (the repository's config.toml documents them all, and a
test checks that it equals the defaults). Data directory: ``--data-dir`` >
``QUANTDESK_DATA_DIR`` > ``$XDG_DATA_HOME/quantdesk`` > ``~/.local/share/quantdesk``.
"""

from __future__ import annotations

import difflib
import math
import os
import tomllib
import typing
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from panes.keymap import KEY_IDS, check_keymap
from services.accounting.costs import CostConfig
from services.alerts.config import AlertsConfig, TelegramConfig, channel_from_table
from services.backtest.rules import BacktestConfig
from services.data.fetch import FetchConfig
from services.data.sync import DataConfig, resolve_universe
from services.feed.config import FeedConfig
from services.instruments import DEFAULT_UNIVERSE, Instrument, Universe, instrument_for
from services.ops.backup import BackupConfig
from services.ops.health import MonitorConfig
from services.ops.metrics import MetricsConfig
from services.ops.modes import MODES
from services.ops.scheduler import JobsConfig
from services.runtime import AccountConfig
from services.settings import ConfigValueError, require
from services.trading.live import StrategySpec
from services.trading.review import ReviewConfig
from services.trading.risk import RiskConfig
from services.venues.accounts import AccountSpec
from services.venues.simulator import SimConfig


class ConfigError(Exception):
    """A config file that cannot be used; the message says where and what is expected."""


@dataclass(frozen=True)
class AppSection:
    """[app]"""

    mode: str = "demo"
    """demo: the simulated market; paper: real quotes ([feed]) with paper fills; replay: a
    recording played back (`quantdesk --mode replay FILE`). Each keeps its own account."""

    def __post_init__(self) -> None:
        require(
            self.mode in MODES,
            "mode",
            f"must be one of {', '.join(MODES)}, got {self.mode!r} (live trading starts only "
            "from the command line: quantdesk --mode live --account ID)",
        )


@dataclass(frozen=True)
class StoreSection:
    """[store]"""

    uri: str = ""
    """ArcticDB URI; empty means lmdb://<data dir>/arctic. Any ArcticDB URI (s3://, azure://)."""


@dataclass(frozen=True)
class WatchlistSection:
    """[watchlist]"""

    symbols: tuple[str, ...] = tuple(i.vt_symbol for i in DEFAULT_UNIVERSE)
    """Symbols shown on first start; later edits (a / x keys) are saved in the data directory."""

    def __post_init__(self) -> None:
        for symbol in self.symbols:
            require(
                instrument_for(symbol) is not None,
                "symbols",
                f"{symbol!r} is not an A-share or ETF symbol like 600519.SSE or 159915.SZSE",
            )


@dataclass(frozen=True)
class UISection:
    """[ui]"""

    refresh_hz: float = 10.0
    """How often coalesced quotes reach the screen (4–20 per second)."""
    theme: str = "textual-dark"
    """Any Textual theme name."""
    colors: str = "cn"
    """cn: gains red, losses green (A-share convention); intl: gains green, losses red."""

    def __post_init__(self) -> None:
        require(self.colors in ("cn", "intl"), "colors", f"must be cn or intl, got {self.colors!r}")
        require(4 <= self.refresh_hz <= 20, "refresh_hz", f"must be 4–20, got {self.refresh_hz}")
        if self.theme != "textual-dark":  # Textual is imported only to check another one
            from textual.theme import BUILTIN_THEMES

            near = difflib.get_close_matches(self.theme, list(BUILTIN_THEMES), n=1)
            require(
                self.theme in BUILTIN_THEMES,
                "theme",
                f"no Textual theme {self.theme!r}"
                + (f" (did you mean {near[0]!r}?)" if near else "")
                + f": one of {', '.join(sorted(BUILTIN_THEMES))}",
            )


DEMO_STRATEGIES = (
    StrategySpec(
        id="demo-ma",
        strategy="ma_cross",
        symbols=("600519.SSE", "510300.SSE"),
        params={"fast": 5, "slow": 20},
        freq="1m",
        size=100,
    ),
)


@dataclass(frozen=True)
class Config:
    """The whole configuration."""

    app: AppSection = field(default_factory=AppSection)
    store: StoreSection = field(default_factory=StoreSection)
    sim: SimConfig = field(default_factory=SimConfig)
    account: AccountConfig = field(default_factory=AccountConfig)
    costs: CostConfig = field(default_factory=CostConfig)
    data: DataConfig = field(default_factory=DataConfig)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    feed: FeedConfig = field(default_factory=FeedConfig)
    jobs: JobsConfig = field(default_factory=JobsConfig)
    backup: BackupConfig = field(default_factory=BackupConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    """[alerts], [alerts.channels.NAME] and [alerts.severity]."""
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    backtest: BacktestConfig = field(default_factory=BacktestConfig)
    risk: RiskConfig = field(default_factory=RiskConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)
    watchlist: WatchlistSection = field(default_factory=WatchlistSection)
    ui: UISection = field(default_factory=UISection)
    universes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Named symbol lists for `data sync --universe NAME` and [data] universe."""
    strategies: tuple[StrategySpec, ...] = DEMO_STRATEGIES
    """[[strategies]]: what runs live, on which symbols, with which parameters."""
    accounts: tuple[AccountSpec, ...] = ()
    """[[accounts]]: broker accounts (a vnpy gateway each) for live trading."""
    keys: dict[str, str] = field(default_factory=dict)
    """Key remapping by binding id, e.g. kill = "ctrl+x" (ids are listed in the help screen)."""
    source: str = "built-in defaults"

    @property
    def file(self) -> Path | None:
        """The config file read, if any (backups copy it)."""
        return Path(self.source) if Path(self.source).is_file() else None


SECTIONS: dict[str, type] = {
    f.name: f.type if isinstance(f.type, type) else typing.get_type_hints(Config)[f.name]
    for f in fields(Config)
    if f.name not in ("keys", "universes", "source", "strategies", "accounts", "alerts")
}


def resolve_config_path(cli_value: str | None, data_dir: Path) -> Path | None:
    raw = cli_value or os.environ.get("QUANTDESK_CONFIG")
    if raw:
        path = Path(raw).expanduser()
        if path.is_dir():
            raise ConfigError(f"config file {path} is a folder: give the config file in it")
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        return path
    candidate = data_dir / "config.toml"
    return candidate if candidate.is_file() else None


def load_config(path: Path | None) -> Config:
    """Read ``path`` (or the defaults when None) into a :class:`Config`."""
    if path is None:
        return Config()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return parse_config(raw, str(path))


def parse_config(raw: dict[str, Any], source: str) -> Config:
    _reject_unknown(
        raw, set(SECTIONS) | {"keys", "universes", "strategies", "accounts", "alerts"}, source, ""
    )
    built: dict[str, Any] = {}
    chats = raw.get("telegram", {}).get("chats") if isinstance(raw.get("telegram"), dict) else None
    if isinstance(chats, list):  # chat ids are numbers; a string is fine too
        ints = [str(c) if isinstance(c, int) and not isinstance(c, bool) else c for c in chats]
        raw = {**raw, "telegram": {**raw["telegram"], "chats": ints}}
    for name, cls in SECTIONS.items():
        section = raw.get(name, {})
        if not isinstance(section, dict):
            raise ConfigError(f"{source}: [{name}] must be a table, got {type(section).__name__}")
        built[name] = _build(cls, section, source, name)
    keys = raw.get("keys", {})
    if not isinstance(keys, dict):
        raise ConfigError(f'{source}: [keys] must be a table of id = "key"')
    _reject_unknown(keys, set(KEY_IDS), source, "keys")
    for key_id, value in keys.items():
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f'{source}: [keys] {key_id}: expected a key name like "ctrl+x"')
    problems = check_keymap(keys) if keys else []
    if problems:
        raise ConfigError(f"{source}: " + "; ".join(problems))
    universes = _universes(raw.get("universes", {}), source)
    try:
        resolve_universe(built["data"].universe, universes)
    except ValueError as exc:
        raise ConfigError(
            f"{source}: [data] universe: {exc} (or name one of [universes]: "
            f"{', '.join(sorted(universes)) or 'none defined'})"
        ) from None
    strategies = _strategies(raw["strategies"], source) if "strategies" in raw else DEMO_STRATEGIES
    if built["app"].mode == "demo":
        listed = Universe(DEFAULT_UNIVERSE)
        for symbol in built["watchlist"].symbols:
            if symbol not in listed:
                raise ConfigError(
                    f"{source}: [watchlist] symbols: {symbol} is not listed on the simulated "
                    f"market of demo mode ({', '.join(i.vt_symbol for i in DEFAULT_UNIVERSE[:3])}"
                    ", ... see README); in paper mode any A-share symbol works"
                )
    return Config(
        **built,
        alerts=_alerts(raw.get("alerts", {}), source),
        universes=universes,
        strategies=strategies,
        accounts=_accounts(raw.get("accounts", []), source),
        keys=dict(keys),
        source=source,
    )


def _alerts(table: Any, source: str) -> AlertsConfig:
    """[alerts] with its [alerts.channels.NAME] tables and [alerts.severity]."""
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [alerts] must be a table")
    flat = {k: v for k, v in table.items() if k not in ("channels", "severity")}
    base: AlertsConfig = _build(AlertsConfig, flat, source, "alerts")
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


def _accounts(entries: Any, source: str) -> tuple[AccountSpec, ...]:
    if not isinstance(entries, list):
        raise ConfigError(f"{source}: accounts must be [[accounts]] tables")
    out: list[AccountSpec] = []
    for n, entry in enumerate(entries, 1):
        where = f"{source}: [[accounts]] #{n}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: must be a table")
        _reject_unknown(
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
        limits = _build(RiskConfig, entry.get("risk", {}), source, f"accounts #{n} risk")
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


def _strategies(entries: Any, source: str) -> tuple[StrategySpec, ...]:
    if not isinstance(entries, list):
        raise ConfigError(f"{source}: strategies must be [[strategies]] tables")
    out: list[StrategySpec] = []
    for n, entry in enumerate(entries, 1):
        where = f"{source}: [[strategies]] #{n}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: must be a table")
        _reject_unknown(entry, set(STRATEGY_KEYS), source, f"[strategies] #{n}")
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


def _universes(table: Any, source: str) -> dict[str, tuple[str, ...]]:
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


def _reject_unknown(table: dict[str, Any], known: set[str], source: str, section: str) -> None:
    for key in table:
        if key not in known:
            where = f"[{section}] " if section else ""
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"{source}: {where}unknown key {key!r}{hint}; "
                f"expected one of: {', '.join(sorted(known))}"
            )


def _build(cls: type, table: dict[str, Any], source: str, section: str) -> Any:
    hints = typing.get_type_hints(cls)
    _reject_unknown(table, set(hints), source, section)
    values = {k: _coerce(v, hints[k], f"{source}: [{section}] {k}") for k, v in table.items()}
    try:
        return cls(**values)
    except ConfigValueError as exc:
        raise ConfigError(f"{source}: [{section}] {exc.key}: {exc.detail}") from None


def _coerce(value: Any, hint: Any, where: str) -> Any:
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


def instruments_for(config: Config) -> tuple[Instrument, ...]:
    """What a mode lists: the simulated market's 20 names, and in paper and replay also
    every watchlist and strategy symbol beyond them."""
    if config.app.mode == "demo":
        return DEFAULT_UNIVERSE
    listed = {i.vt_symbol: i for i in DEFAULT_UNIVERSE}
    wanted = [*config.watchlist.symbols, *(s for spec in config.strategies for s in spec.symbols)]
    for symbol in wanted:
        inst = instrument_for(symbol)
        if inst is not None:
            listed.setdefault(symbol, inst)
    return tuple(listed.values())
