"""Secrets never reach a log line, the terminal, an alert or an error message.

Two kinds of secret are masked wherever text leaves the process:

- credentials in URIs (``s3://host:bucket?access=KEY&secret=SECRET``,
  ``https://user:password@host``), by their shape;
- every secret value quantdesk has read from (or stored in) the keyring, by value:
  :func:`remember` adds it, and its pieces when it is an apprise URL. A source that
  echoes a token in its refusal ("token X is invalid"), or a library that logs a
  request URL holding a bot token, is masked this way.

:func:`redact` does it for a text, :class:`RedactingFilter` for every log record (on
every handler), :class:`RedactingStream` for what a command prints.
"""

from __future__ import annotations

import io
import logging
import re
import threading
from typing import TextIO
from urllib.parse import quote, urlsplit

MASK = "***"
MIN_VALUE = 4  # a shorter secret would mask ordinary text everywhere; a key is longer
MIN_PIECE = 6  # the pieces of a URL secret worth masking on their own
_SECRET_KEYS = (
    "access",
    "secret",
    "password",
    "passwd",
    "token",
    "key",
    "api_key",
    "apikey",
    "sas_token",
    "accountkey",
    "sharedaccesssignature",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
)
_QUERY = re.compile(
    r"(?i)(\b(?:" + "|".join(_SECRET_KEYS) + r")\s*=\s*)([^&;\s'\"]+)",
)
_USERINFO = re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^/@\s:]*:)([^@/\s]+)(@)")

_known: set[str] = set()
_pattern: re.Pattern[str] | None = None
_lock = threading.Lock()


def secret_parts(url: str) -> list[str]:
    """The pieces of a URL that may be secret: its password, and path segments and query
    values shaped like a token or key -- at least 6 characters with a digit, or 16 and
    more -- longest first, for masking. A host name with a dot is an address, and a word
    (``alerts``, ``quantdesk``) is no key: masking it would blank it everywhere."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    pieces = re.split(r"[/:@?&=,]", f"{parts.netloc}/{parts.path}?{parts.query}")
    host = parts.hostname or ""
    found = {
        p
        for p in pieces
        if (len(p) >= 16 or (len(p) >= MIN_PIECE and any(c.isdigit() for c in p)))
        and not (p.lower() == host and "." in p)
    }
    if parts.password:
        found.add(parts.password)
    return sorted(found, key=len, reverse=True)


def remember(value: str | None) -> None:
    """Mask ``value`` (a secret) from now on in everything :func:`redact` sees."""
    global _pattern
    value = (value or "").strip()
    if len(value) < MIN_VALUE:
        return
    pieces = {value, *(secret_parts(value) if "://" in value else ())}
    pieces |= {quote(p, safe="") for p in pieces}  # as it appears inside a URL
    with _lock:
        if pieces <= _known:
            return
        _known.update(pieces)
        alternatives = sorted(_known, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(p) for p in alternatives))


def forget_all() -> None:
    """Forget every remembered value (tests)."""
    global _pattern
    with _lock:
        _known.clear()
        _pattern = None


def redact(text: str) -> str:
    """``text`` with every known secret and credential-looking value replaced by ``***``."""
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    if "=" not in text and "@" not in text:
        return text
    text = _QUERY.sub(lambda m: m.group(1) + MASK, text)
    return _USERINFO.sub(lambda m: m.group(1) + MASK + m.group(3), text)


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's final message (its arguments included) and keeps a
    record on one line: a newline inside a message (a halt reason typed with one) is
    written as ``\\n``, so no text can forge a line of its own in the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it to the handler's own fallback
            return True
        clean = one_line(redact(message))
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            if redact(str(exc)) != str(exc):  # a traceback would print the raw text
                record.msg = clean + f" ({type(exc).__name__}: {one_line(redact(str(exc)))})"
                record.exc_info, record.exc_text = None, None
        return True


def one_line(text: str) -> str:
    """``text`` with its line breaks and other control characters shown escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == "\t" else repr(c)[1:-1] for c in text)


class RedactingStream(io.TextIOBase):
    """A text stream that masks secrets in what is written to the one it wraps (a
    command's stdout and stderr: every message it prints)."""

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner

    def write(self, text: str) -> int:
        self.inner.write(redact(text))
        return len(text)

    def flush(self) -> None:
        self.inner.flush()

    def isatty(self) -> bool:
        return not self.inner.closed and self.inner.isatty()

    @property
    def closed(self) -> bool:
        """The wrapped stream's (a library that kept this one checks it at exit)."""
        return bool(self.inner.closed)

    def fileno(self) -> int:
        return self.inner.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.inner.encoding

    def writable(self) -> bool:
        return True
