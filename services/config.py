"""config.toml → typed, frozen models; every error names the file, key and expectation.

The services' sections are read here, so that every reader of a data directory's
config -- the console and each command (console/config.py adds [ui] and [keys]), and a
notebook's :class:`services.research.Research` -- reads it one way: a notebook's backtest
and ``quantdesk backtest`` use the same costs and trading days.

Precedence: ``--config`` > ``QUANTDESK_CONFIG`` > ``<data dir>/config.toml``
> built-in defaults (the repository's config.toml documents them all, and a
test checks that it equals the defaults). Data directory: ``--data-dir`` >
``QUANTDESK_DATA_DIR`` > ``$XDG_DATA_HOME/quantdesk`` > ``~/.local/share/quantdesk``.
"""

from __future__ import annotations

import os
import tomllib
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from services.accounting.costs import CostConfig
from services.alerts.config import AlertsConfig, TelegramConfig
from services.backtest.rules import BacktestConfig
from services.config_tables import (
    ConfigError,
    build,
    parse_accounts,
    parse_alerts,
    parse_strategies,
    parse_universes,
)
from services.config_tables import (
    reject_unknown as _reject_unknown,
)
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
from services.settings import require
from services.trading.live import StrategySpec
from services.trading.review import ReviewConfig
from services.trading.risk import RiskConfig
from services.venues.accounts import AccountSpec
from services.venues.simulator import SimConfig

__all__ = ["ConfigError", "Settings", "load_settings", "parse_settings", "resolve_config_path"]


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
class Settings:
    """Every section of config.toml that the services read (the console's Config adds
    [ui] and [keys])."""

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
    universes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Named symbol lists for `data sync --universe NAME` and [data] universe."""
    strategies: tuple[StrategySpec, ...] = DEMO_STRATEGIES
    """[[strategies]]: what runs live, on which symbols, with which parameters."""
    accounts: tuple[AccountSpec, ...] = ()
    """[[accounts]]: broker accounts (a vnpy gateway each) for live trading."""
    source: str = "built-in defaults"

    @property
    def file(self) -> Path | None:
        """The config file read, if any (backups copy it)."""
        return Path(self.source) if Path(self.source).is_file() else None


SECTIONS: dict[str, type] = {
    f.name: f.type if isinstance(f.type, type) else typing.get_type_hints(Settings)[f.name]
    for f in fields(Settings)
    if f.name not in ("universes", "source", "strategies", "accounts", "alerts")
}
TABLES = ("universes", "strategies", "accounts", "alerts")  # read by their own parsers
UI_SECTIONS = frozenset({"ui", "keys"})  # the console's own (console/config.py)


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


def parse_settings(raw: dict[str, Any], source: str, ui: frozenset[str] = frozenset()) -> Settings:
    """The services' sections of a config file's ``raw`` tables, checked; ``ui``: the
    console's own section names, left to it (any other unknown section is an error)."""
    _reject_unknown(raw, set(SECTIONS) | set(TABLES) | set(ui), source, "")
    built: dict[str, Any] = {}
    chats = raw.get("telegram", {}).get("chats") if isinstance(raw.get("telegram"), dict) else None
    if isinstance(chats, list):  # chat ids are numbers; a string is fine too
        ints = [str(c) if isinstance(c, int) and not isinstance(c, bool) else c for c in chats]
        raw = {**raw, "telegram": {**raw["telegram"], "chats": ints}}
    for name, cls in SECTIONS.items():
        section = raw.get(name, {})
        if not isinstance(section, dict):
            raise ConfigError(f"{source}: [{name}] must be a table, got {type(section).__name__}")
        built[name] = build(cls, section, source, name)
    universes = parse_universes(raw.get("universes", {}), source)
    try:
        resolve_universe(built["data"].universe, universes)
    except ValueError as exc:
        raise ConfigError(
            f"{source}: [data] universe: {exc} (or name one of [universes]: "
            f"{', '.join(sorted(universes)) or 'none defined'})"
        ) from None
    if "strategies" in raw:
        strategies = parse_strategies(raw["strategies"], source)
    else:
        strategies = DEMO_STRATEGIES
    if built["app"].mode == "demo":
        listed = Universe(DEFAULT_UNIVERSE)
        for symbol in built["watchlist"].symbols:
            if symbol not in listed:
                raise ConfigError(
                    f"{source}: [watchlist] symbols: {symbol} is not listed on the simulated "
                    f"market of demo mode ({', '.join(i.vt_symbol for i in DEFAULT_UNIVERSE[:3])}"
                    ", ... see README); in paper mode any A-share symbol works"
                )
    return Settings(
        **built,
        alerts=parse_alerts(raw.get("alerts", {}), source),
        universes=universes,
        strategies=strategies,
        accounts=parse_accounts(raw.get("accounts", []), source),
        source=source,
    )


def read_file(path: Path) -> dict[str, Any]:
    """The TOML tables of ``path``; ConfigError names the file when it cannot be read."""
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return raw


def load_settings(path: Path | None, ui: frozenset[str] = UI_SECTIONS) -> Settings:
    """Read ``path`` (the defaults when None) into the services' :class:`Settings` --
    the same reading the console's ``load_config`` does (a notebook's Research too)."""
    if path is None:
        return Settings()
    return parse_settings(read_file(path), str(path), ui)


def instruments_for(config: Settings) -> tuple[Instrument, ...]:
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
