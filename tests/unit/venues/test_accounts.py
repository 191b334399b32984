"""[[accounts]] in config and ``quantdesk reconcile`` against the scripted broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from console.cli import main
from console.config import ConfigError, parse_config
from services.records.journal import Journal
from services.records.recovery import rebuild
from services.venues.accounts import (
    EXTRAS,
    AccountError,
    AccountSpec,
    gateway_class,
    gateway_setting,
)
from services.venues.scripted import ScriptedGateway
from tests.unit.venues.conftest import Broker

GATEWAY = "services.venues.scripted:ScriptedGateway"


def _config(tmp_path: Path, socket: str, gateway: str = GATEWAY, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[[accounts]]\nid = "s1"\ngateway = "{gateway}"\nsettings = {{ socket = "{socket}" }}\n'
        + extra,
        encoding="utf-8",
    )
    return path


def _reconcile(tmp_path: Path, config: Path, *more: str) -> int:
    data = tmp_path / "data"
    return main(
        ["reconcile", "--account", "s1", "--data-dir", str(data), "--config", str(config), *more]
    )


def test_accounts_are_read_from_config_with_clear_errors() -> None:
    raw = {"accounts": [{"id": "a", "gateway": GATEWAY, "secrets": {"password": "broker.pw"}}]}
    assert parse_config(raw, "t").accounts == (
        AccountSpec("a", GATEWAY, {}, {"password": "broker.pw"}),
    )
    with pytest.raises(ConfigError, match="id 'a' is used twice"):
        parse_config({"accounts": [raw["accounts"][0], raw["accounts"][0]]}, "t")
    with pytest.raises(ConfigError, match="gateway: must be module:Class"):
        parse_config({"accounts": [{"id": "a", "gateway": "vnpy_ctp"}]}, "t")
    with pytest.raises(ConfigError, match="unknown key 'setings'"):
        parse_config({"accounts": [{"id": "a", "gateway": GATEWAY, "setings": {}}]}, "t")


def test_a_gateway_is_imported_and_its_settings_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = AccountSpec("a", "vnpy_nosuch:Gateway")
    with pytest.raises(AccountError, match=r"cannot import vnpy_nosuch.*pip install vnpy_nosuch"):
        gateway_class(spec)
    with monkeypatch.context() as patch:  # a package of one of our extras names the extra
        patch.setitem(EXTRAS, "vnpy_nosuch", "nosuch")
        with pytest.raises(AccountError, match=r"pip install -e '\.\[nosuch\]'"):
            gateway_class(spec)
    with pytest.raises(AccountError, match="is not a vnpy BaseGateway class"):
        gateway_class(AccountSpec("a", "services.venues.accounts:AccountSpec"))
    cls = gateway_class(AccountSpec("a", GATEWAY))
    assert cls is ScriptedGateway
    typo = AccountSpec("a", GATEWAY, {"sockett": "/x"})
    with pytest.raises(AccountError, match="no setting 'sockett' \\(did you mean 'socket'\\?\\)"):
        gateway_setting(typo, cls, lambda name: None)
    secret = AccountSpec("a", GATEWAY, {}, {"socket": "broker.socket"})
    with pytest.raises(AccountError, match=r"quantdesk secrets set broker\.socket"):
        gateway_setting(secret, cls, lambda name: None)
    assert gateway_setting(secret, cls, lambda name: "/run/b.sock")["socket"] == "/run/b.sock"


def test_reconcile_adopts_the_account_then_halts_it_on_a_difference(
    tmp_path: Path, broker: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    # The account held shares before quantdesk: the first reconciliation opens the ledger.
    broker.call("external", symbol="600036", exchange="SSE", volume=200, price=35.0, fill=True)
    config = _config(tmp_path, str(broker.path))
    assert _reconcile(tmp_path, config) == 0
    out = capsys.readouterr().out
    assert "external order" in out and "the journal agrees with the broker" in out
    journal_path = tmp_path / "data" / "accounts" / "s1" / "journal.sqlite3"
    state = broker.call("state")
    rebuilt = rebuild(Journal(journal_path, readonly=True), 0.0)
    assert rebuilt.book.cash == pytest.approx(state["cash"])
    assert rebuilt.book.qty("600036.SSE") == 200  # once: the opening holds today's trade
    assert rebuilt.book.position("600036.SSE").avg_price == 35.0  # the broker's cost basis
    # The broker pushes today's trade again at the next login: still counted once.
    trade = state["trades"][0]
    journal = Journal(journal_path)
    journal.record(
        "fill",
        f"s1.{trade['orderid']}",
        {
            "vt_tradeid": f"s1.{trade['tradeid']}",
            "vt_symbol": "600036.SSE",
            "direction": "LONG",
            "price": 35.0,
            "volume": 200,
            "fee": trade["fee"],
        },
    )
    assert rebuild(journal, 0.0).book.qty("600036.SSE") == 200
    journal.close()
    # Shares moved outside quantdesk: nothing explains them.
    broker.call("set_position", symbol="601318", exchange="SSE", volume=1000)
    assert _reconcile(tmp_path, config, "--json") == 5
    doc = json.loads(capsys.readouterr().out)
    assert doc["halted"] is True
    assert doc["lines"][-1].startswith("601318.SSE: the journal's ledger holds 0, the broker 1000")
    saved = Journal(journal_path, readonly=True).trading_state()
    assert saved is not None and saved[0] == "HALTED" and "reconciliation" in saved[1]


def test_an_unreachable_broker_fails_clearly_within_the_timeout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, str(tmp_path / "nobody.sock"))
    assert _reconcile(tmp_path, config, "--timeout", "1") == 2
    err = capsys.readouterr().err
    assert "account s1: not connected to the broker within 1 s" in err
    assert "cannot reach the broker" in err and "nothing was sent" in err
    assert (
        main(
            [
                "reconcile",
                "--account",
                "zz",
                "--data-dir",
                str(tmp_path / "data"),
                "--config",
                str(config),
            ]
        )
        == 2
    )
    assert "no account 'zz'" in capsys.readouterr().err


def test_an_account_has_its_own_risk_limits() -> None:
    raw = {
        "risk": {"max_daily_loss": 50_000.0},
        "accounts": [{"id": "a", "gateway": GATEWAY, "risk": {"max_daily_loss": 20_000}}],
    }
    config = parse_config(raw, "t")
    assert config.accounts[0].risk == {"max_daily_loss": 20_000.0}
    assert config.risk.max_daily_loss == 50_000.0  # the others keep [risk]
    with pytest.raises(ConfigError, match=r"\[accounts #1 risk\] unknown key 'max_dayly_loss'"):
        parse_config(
            {"accounts": [{"id": "a", "gateway": GATEWAY, "risk": {"max_dayly_loss": 1}}]}, "t"
        )
    with pytest.raises(ConfigError, match=r"\[accounts #1 risk\] max_daily_loss"):
        parse_config(
            {"accounts": [{"id": "a", "gateway": GATEWAY, "risk": {"max_daily_loss": -5}}]}, "t"
        )


def test_accounts_lists_each_account_its_gateway_and_its_journal(
    tmp_path: Path, broker: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(
        tmp_path,
        str(broker.path),
        extra='[[accounts]]\nid = "x2"\ngateway = "vnpy_nosuch:Gateway"\n',
    )
    data = ["--data-dir", str(tmp_path / "data"), "--config", str(config)]
    assert main(["accounts", *data]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0]
        == f"s1: {GATEWAY} (installed); quotes feed; no journal yet (first reconciliation opens it)"
    )
    assert lines[1].startswith("x2: vnpy_nosuch:Gateway (cannot import vnpy_nosuch")
    assert "pip install vnpy_nosuch" in lines[1]
    assert _reconcile(tmp_path, config) == 0
    capsys.readouterr()
    assert main(["accounts", *data]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith("; trading ACTIVE")


def test_the_built_in_paper_account_is_declared_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from services.venues.paper_account import PaperAccountGateway

    raw = {"accounts": [{"id": "pp", "gateway": "paper", "settings": {"initial_cash": 5e5}}]}
    (spec,) = parse_config(raw, "t").accounts
    assert gateway_class(spec) is PaperAccountGateway
    assert gateway_setting(spec, PaperAccountGateway, lambda name: None) == {"initial_cash": 5e5}
    with pytest.raises(AccountError, match="has no setting 'cash'"):
        gateway_setting(AccountSpec("pp", "paper", {"cash": 1}), PaperAccountGateway, print)
    config = tmp_path / "config.toml"
    config.write_text('[[accounts]]\nid = "pp"\ngateway = "paper"\n', encoding="utf-8")
    data = ["--data-dir", str(tmp_path / "data"), "--config", str(config)]
    # Its broker lives inside the running quantdesk: nothing outside to reconcile with.
    assert main(["reconcile", "--account", "pp", *data]) == 2
    assert "account pp is a paper account" in capsys.readouterr().err
