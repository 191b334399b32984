"""Secrets never reach a log line, the terminal or an error message.

Store URIs carry credentials (``s3://host:bucket?access=KEY&secret=SECRET``,
``https://user:password@host``); :func:`redact` masks them wherever text leaves
the process, and :class:`RedactingFilter` does it for every log record.
"""

from __future__ import annotations

import logging
import re

MASK = "***"
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


def redact(text: str) -> str:
    """``text`` with every credential-looking value replaced by ``***``."""
    if "=" not in text and "@" not in text:
        return text
    text = _QUERY.sub(lambda m: m.group(1) + MASK, text)
    return _USERINFO.sub(lambda m: m.group(1) + MASK + m.group(3), text)


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's final message (its arguments included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it to the handler's own fallback
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            if redact(str(exc)) != str(exc):  # a traceback would print the raw text
                record.msg = clean + f" ({type(exc).__name__}: {redact(str(exc))})"
                record.exc_info, record.exc_text = None, None
        return True
