"""config.toml: documented defaults, typed models, errors that name file, key and expectation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from console.config import Config, ConfigError, load_config
from services.ops.datadir import resolve_data_dir

REPO = Path(__file__).resolve().parents[2]


def test_the_shipped_config_toml_is_exactly_the_defaults() -> None:
    loaded = load_config(REPO / "config.toml")
    assert {**loaded.__dict__, "source": ""} == {**Config().__dict__, "source": ""}


def test_every_setting_in_config_toml_is_documented_by_a_comment() -> None:
    lines = (REPO / "config.toml").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if "=" in line and not line.lstrip().startswith("#"):
            assert lines[i - 1].lstrip().startswith("#"), f"undocumented setting: {line}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[sim]\nsped = 60\n", "[sim] unknown key 'sped' (did you mean 'speed'?)"),
        ("[sim]\nspeed = -1\n", "[sim] speed: must be in (0, 3600], got -1.0"),
        ('[sim]\nspeed = "fast"\n', "[sim] speed: expected a number, got 'fast'"),
        ("[costs]\ncommission_rate = 0.5\n", "[costs] commission_rate: must be a fraction"),
        ("[sim\n", "not valid TOML: Expected ']' at the end of a table declaration (at line 1"),
        ('[watchlist]\nsymbols = ["123456"]\n', "[watchlist] symbols: '123456' is not an A-share"),
        (
            '[watchlist]\nsymbols = ["600000.SSE"]\n',
            "[watchlist] symbols: 600000.SSE is not listed on the simulated market of demo mode",
        ),
        ("[feed]\ninterval_s = 0.1\n", "[feed] interval_s: must be 1–60 seconds"),
        ('[feed]\nurl = "ftp://x"\n', "[feed] url: must be an http(s) URL"),
        ('[keys]\nkil = "ctrl+x"\n', "[keys] unknown key 'kil' (did you mean 'kill'?)"),
        ('[keys]\nkill = "crtl+x"\n', "'crtl' is not a modifier (did you mean ctrl?)"),
        ('[keys]\nkill = "ctrl+xx"\n', "'xx' is not a key (did you mean x?)"),
        ('[keys]\nkill = "k"\n', "k is typed into fields (a ticket, a prompt) and would HALT"),
        ('[keys]\nbuy = "s"\n', "[keys] buy: s is also sell's key (watchlist)"),
        ('[keys]\nrearm = "ctrl+k"\n', "[keys] rearm: ctrl+k is also kill's key (global)"),
        ('[keys]\nquit = "b"\n', "[keys] quit: b is also buy's key (watchlist)"),
        ('[keys]\nhelp = "tab"\n', "[keys] help: tab is Textual's own key"),
        ('[ui]\ntheme = "dracul"\n', "[ui] theme: no Textual theme 'dracul' (did you mean"),
        ('[app]\nmode = "live"\n', "[app] mode: must be one of demo, paper, replay, got 'live'"),
        ("sim = 3\n", "[sim] must be a table"),
        ("[account]\ninitial_cash = inf\n", "[account] initial_cash: expected a finite number"),
        ("[risk]\nmax_daily_loss = nan\n", "[risk] max_daily_loss: expected a finite number"),
        (
            '[[strategies]]\nid = "x"\nstrategy = "ma_cross"\nsymbols = ["600519"]\n'
            "params = { fast = inf }\n",
            "params.fast: expected a finite number",
        ),
        ("[alerts]\nper_minut = 6\n", "[alerts] unknown key 'per_minut' (did you mean"),
        ("[alerts]\nper_minute = 0\n", "[alerts] per_minute: must be 1-600, got 0"),
        ('[alerts.severity]\nfill = "loud"\n', "[alerts] severity: fill: must be one of info"),
        ('[alerts.severity]\nfils = "info"\n', "[alerts] severity: unknown kind 'fils'"),
        ("[alerts.channels.phone]\nmin_severity = 'warning'\n", "[alerts.channels.phone] secret"),
        (
            '[alerts.channels.phone]\nsecret = "a"\nkinds = ["halts"]\n',
            "[alerts.channels.phone] kinds: unknown kind 'halts'",
        ),
        ('[alerts.channels.phone]\nsecret = "a"\nurl = "x"\n', "[alerts.channels.phone] url"),
        ("[telegram]\ncontrol = true\n", "[telegram] chats: control = true needs the chat ids"),
        ('[telegram]\nchats = ["me"]\n', "[telegram] chats: a chat id is a whole number"),
        ('[telegram]\napi_url = "api.telegram.org"\n', "[telegram] api_url: must be an http(s)"),
        ('[jobs]\ndaily_summary = "daily"\n', "[jobs] daily_summary: not a crontab"),
    ],
)
def test_bad_config_errors_name_the_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(str(path))
    assert expected in str(err.value)


def test_a_remap_that_keeps_every_key_working_is_taken(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[keys]\nkill = "ctrl+x,f12"\nbuy = "B"\nbacktests = "ctrl+b"\n')
    assert load_config(path).keys == {"kill": "ctrl+x,f12", "buy": "B", "backtests": "ctrl+b"}


def test_data_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QUANTDESK_DATA_DIR", str(tmp_path / "env"))
    assert resolve_data_dir(str(tmp_path / "cli")) == tmp_path / "cli"
    assert resolve_data_dir(None) == tmp_path / "env"
    monkeypatch.delenv("QUANTDESK_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert resolve_data_dir(None) == tmp_path / "xdg" / "quantdesk"


def test_cli_reports_config_errors_in_one_line_without_a_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "bad.toml"
    bad.write_text("[ui]\nrefresh_hz = 100\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "console.cli", "--data-dir", str(tmp_path), "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"quantdesk: config error: {bad}: [ui] refresh_hz: must be 4–20, got 100.0"
    )
    assert "Traceback" not in proc.stderr


def test_named_universes(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[universes]\ncore = ["600519", "510300.SSE", "AAPL.US"]\n[data]\nuniverse = "core"\n',
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.universes == {"core": ("600519.SSE", "510300.SSE", "AAPL.US")}
    path.write_text('[data]\nuniverse = "cor"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[data\] universe: cannot read symbol 'cor'"):
        load_config(path)
    path.write_text('[universes]\ncore = ["600519", "60"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[universes\] core: cannot read symbol '60'"):
        load_config(path)


def test_strategies_are_declared_in_config_and_mistakes_name_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[[strategies]]\nid = "a"\nstrategy = "rsi"\nsymbols = ["510300"]\n'
        "params = { window = 10 }\nauto_approve = true\n",
        encoding="utf-8",
    )
    [spec] = load_config(path).strategies
    assert (spec.id, spec.symbols, spec.params, spec.auto_approve) == (
        "a",
        ("510300.SSE",),
        {"window": 10.0},
        True,
    )
    path.write_text("", encoding="utf-8")
    assert [s.id for s in load_config(path).strategies] == ["demo-ma"]  # the default
    path.write_text("strategies = []\n", encoding="utf-8")
    assert load_config(path).strategies == ()
    for body, message in (
        (
            '[[strategies]]\nid = "a"\nstrategy = "ma_cross"\nsymbols = ["600519"]\n'
            "params = { fastt = 3 }\n",
            "#1 (a): ma_cross has no parameter 'fastt'",
        ),
        ('[[strategies]]\nid = "a"\nstrategy = "ma_cross"\n', "#1: symbols is required"),
        (
            '[[strategies]]\nid = "a"\nstrategy = "ma_cross"\nsymbols = ["600519"]\nsize = "100"\n',
            "#1 size: expected a number",
        ),
        (
            '[[strategies]]\nid = "a"\nstrategy = "ma_cross"\nsymbols = ["600519"]\nsise = 1\n',
            "unknown key 'sise' (did you mean 'size'?)",
        ),
    ):
        path.write_text(body, encoding="utf-8")
        with pytest.raises(ConfigError, match=re.escape(message)):
            load_config(path)


def test_alert_channels_and_phone_control_from_config_toml(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[alerts]\nper_minute = 3\n"
        '[alerts.severity]\nfill = "warning"\n'
        '[alerts.channels.phone]\nsecret = "alerts.phone"\nmin_severity = "warning"\n'
        '[alerts.channels.mail]\nsecret = "alerts.mail"\nkinds = ["summary", "backup"]\n'
        "[telegram]\ncontrol = true\nchats = [123456789, -100987]\n",
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.alerts.per_minute == 3 and config.alerts.severity_of("fill") == "warning"
    assert [(c.name, c.min_severity, c.kinds) for c in config.alerts.channels] == [
        ("phone", "warning", ()),
        ("mail", "info", ("summary", "backup")),
    ]
    assert config.telegram.control and config.telegram.chats == ("123456789", "-100987")
