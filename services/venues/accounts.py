"""Broker accounts from config: ``[[accounts]]``, each a vnpy gateway and its settings.

```toml
[[accounts]]
id = "main"
gateway = "vnpy_ctp:CtpGateway"          # a BaseGateway by import path, or "paper"
settings = { "交易服务器" = "tcp://180.168.146.187:10201", "用户名" = "000000" }
secrets = { "密码" = "ctp.password" }     # setting -> secret name (quantdesk secrets set)
quotes = "feed"                          # feed (default) or sim
```

Settings are the gateway's own (its ``default_setting`` names them); secrets are
named, never written: their values come from the keyring when the gateway
connects. Each account keeps its journal -- and so its ledger, limits and
trading state -- under ``<data dir>/accounts/<id>/``.
"""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vnpy.trader.gateway import BaseGateway

from services.settings import require

ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
EXTRAS = {"vnpy_ctp": "ctp"}  # packages with an optional extra of ours
PAPER = "paper"  # the built-in paper account (services.venues.paper_account)
PAPER_GATEWAY = "services.venues.paper_account:PaperAccountGateway"


class AccountError(RuntimeError):
    """An account cannot be used as configured; the message says what to do."""


class BrokerUnavailable(RuntimeError):
    """The broker cannot answer now (not connected, or no answer in time)."""


@dataclass(frozen=True)
class AccountSpec:
    """One ``[[accounts]]`` table."""

    id: str
    gateway: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)
    quotes: str = "feed"  # feed: the [feed] poller (as paper); sim: the simulated market
    risk: Mapping[str, Any] = field(default_factory=dict)  # [risk] keys this account changes

    def __post_init__(self) -> None:
        require(
            self.quotes in ("feed", "sim"),
            "quotes",
            f"must be feed (real quotes, as in paper mode) or sim (the simulated market, to "
            f"try an account offline), got {self.quotes!r}",
        )
        require(
            bool(ID_RE.match(self.id)),
            "id",
            f"must be a letter then letters, digits, '_' or '-' (at most 32), got {self.id!r}",
        )
        require(
            self.gateway == PAPER or (":" in self.gateway and all(self.gateway.split(":", 1))),
            "gateway",
            f"must be module:Class, e.g. vnpy_ctp:CtpGateway, or paper, got {self.gateway!r}",
        )
        both = sorted(set(self.settings) & set(self.secrets))
        require(not both, "secrets", f"{both[:1]} is both a setting and a secret")


def account_dir(data_dir: Path, account_id: str) -> Path:
    return data_dir / "accounts" / account_id  # as services.ops.modes.mode_dir for live


def gateway_class(spec: AccountSpec) -> type[BaseGateway]:
    """The account's gateway class, imported; a missing package names its install."""
    where = PAPER_GATEWAY if spec.gateway == PAPER else spec.gateway
    module_name, class_name = where.split(":", 1)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        package = module_name.split(".")[0]
        extra = EXTRAS.get(package)
        how = f"pip install -e '.[{extra}]'" if extra else f"pip install {package}"
        raise AccountError(
            f"account {spec.id}: cannot import {module_name} ({exc}): install it ({how})"
        ) from None
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, BaseGateway)):
        raise AccountError(f"account {spec.id}: {spec.gateway} is not a vnpy BaseGateway class")
    return cls


def gateway_setting(
    spec: AccountSpec, cls: type[BaseGateway], secret: Callable[[str], str | None]
) -> dict[str, Any]:
    """The setting dict ``cls.connect`` takes: defaults, the configured settings, then each
    secret's value from the keyring (``secret(name)``). Unknown keys are refused."""
    known = dict(cls.default_setting)
    for key in (*spec.settings, *spec.secrets):
        if key not in known:
            near = difflib.get_close_matches(key, list(known), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise AccountError(
                f"account {spec.id}: {cls.__name__} has no setting {key!r}{hint}; it takes "
                f"{', '.join(known) or 'none'}"
            )
    setting: dict[str, Any] = {**known, **spec.settings}
    for key, name in spec.secrets.items():
        value = secret(name)
        if value is None:
            raise AccountError(
                f"account {spec.id}: the secret {name!r} (for {key!r}) is not in the keyring: "
                f"quantdesk secrets set {name}"
            )
        setting[key] = value
    return setting
