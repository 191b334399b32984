"""``quantdesk doctor``: is this machine ready to run quantdesk, and what to fix if not.

Each check is a :class:`Finding` -- ok, warn or FAIL -- with what was found and,
when it is not ok, what to do. Nothing here changes anything; the network check
makes one request to the quote source.
"""

from __future__ import annotations

import locale
import os
import shutil
import stat
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Level = Literal["ok", "warn", "FAIL"]
MIN_COLUMNS, MIN_LINES = 120, 40


@dataclass(frozen=True)
class Finding:
    check: str
    level: Level
    found: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.level:4}  {self.check}: {self.found}"
        return f"{text}\n      → {self.fix}" if self.fix else text


def terminal(size: Callable[[], os.terminal_size] | None = None) -> Finding:
    try:
        cols, lines = (size or (lambda: os.get_terminal_size(sys.stdout.fileno())))()
    except OSError:
        return Finding(
            "terminal",
            "warn",
            "standard output is not a terminal",
            "run `quantdesk doctor` in the terminal (and tmux) you will trade in",
        )
    if cols >= MIN_COLUMNS and lines >= MIN_LINES:
        return Finding("terminal", "ok", f"{cols}×{lines}")
    return Finding(
        "terminal",
        "warn",
        f"{cols}×{lines}, smaller than {MIN_COLUMNS}×{MIN_LINES}: panes drop columns",
        "enlarge the window (tmux: resize it, or `tmux resize-window -x 160 -y 48`)",
    )


def colours(env: dict[str, str]) -> Finding:
    term, colorterm = env.get("TERM", ""), env.get("COLORTERM", "")
    if colorterm in ("truecolor", "24bit") or "256color" in term:
        return Finding("colours", "ok", f"TERM={term or '-'} COLORTERM={colorterm or '-'}")
    return Finding(
        "colours",
        "warn",
        f"TERM={term or 'unset'}: few colours (halts and P&L are shown in colour)",
        'export TERM=xterm-256color; in tmux: set -g default-terminal "tmux-256color"',
    )


def utf8(env: dict[str, str]) -> Finding:
    encoding = (sys.stdout.encoding or locale.getpreferredencoding(False) or "").lower()
    lang = env.get("LC_ALL") or env.get("LC_CTYPE") or env.get("LANG") or ""
    if "utf" in encoding.replace("-", "") and ("utf" in lang.lower().replace("-", "") or not lang):
        return Finding("UTF-8", "ok", f"output {encoding}, LANG={lang or '-'}")
    return Finding(
        "UTF-8",
        "FAIL",
        f"output {encoding or 'unknown'}, LANG={lang or 'unset'}: Chinese names show as __",
        "export LANG=C.UTF-8 (in ~/.profile, and in the systemd unit's Environment=)",
    )


def data_dir(path: Path, min_free_gb: float) -> list[Finding]:
    if not path.exists():
        return [
            Finding(
                "data directory",
                "warn",
                f"{path} does not exist yet",
                "it is created at the first start; or pass --data-dir",
            )
        ]
    out = []
    if not os.access(path, os.W_OK):
        out.append(
            Finding("data directory", "FAIL", f"{path} is not writable", f"chown/chmod {path}")
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        out.append(
            Finding(
                "data directory",
                "warn",
                f"{path} is {mode:o}: others can read the journal and config",
                f"chmod 700 {path}",
            )
        )
    if not out:
        out.append(Finding("data directory", "ok", f"{path} (writable, {mode:o})"))
    free = shutil.disk_usage(path).free / 1e9
    level: Level = "ok" if free >= max(min_free_gb, 1.0) else "FAIL" if free < 0.5 else "warn"
    out.append(
        Finding(
            "free disk",
            level,
            f"{free:,.1f} GB free for {path}",
            "" if level == "ok" else "free space: the journal must always be writable",
        )
    )
    return out


def keyring_backend(open_ring: Callable[[], object]) -> Finding:
    try:
        ring = open_ring()
    except Exception as exc:  # keyring's backends fail in many ways; say which
        return Finding(
            "keyring",
            "warn",
            f"cannot open one ({exc})",
            "live accounts' secrets need it: export QUANTDESK_KEYRING_PASSPHRASE for the "
            "encrypted-file keyring, then quantdesk secrets set NAME",
        )
    return Finding("keyring", "ok", f"{type(ring).__module__}.{type(ring).__name__}")


QUOTES_FIX = (
    "paper mode and the feed need it: check the network or a proxy; demo and replay work offline"
)


def reachable(
    url: str, timeout: float = 3.0, check: str = "quote source", fix: str = QUOTES_FIX
) -> Finding:
    """Does ``url`` answer at all (any HTTP status counts)? One HEAD request; ``fix`` is
    what to do when it does not."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            pass
    except urllib.error.HTTPError as exc:  # it answered: reachable
        return Finding(check, "ok", f"{url} answered ({exc.code})")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Finding(check, "warn", f"{url} unreachable ({reason})", fix)
    return Finding(check, "ok", f"{url} answered")


def tmux_present() -> Finding:
    if shutil.which("tmux"):
        return Finding("tmux", "ok", shutil.which("tmux") or "")
    return Finding(
        "tmux", "warn", "not installed", "apt-get install tmux: the console survives a dropped SSH"
    )
