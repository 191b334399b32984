"""Secrets (data tokens, broker passwords, alert URLs) live in a keyring, named, never in
config.toml, a log, the journal or the terminal.

A desktop keyring (Secret Service, macOS Keychain, Windows Credential Locker) is used
where one exists. On a headless server -- the usual place for quantdesk -- there is
none, and the encrypted-file keyring of ``keyrings.cryptfile`` is used instead: its
file is encrypted with a passphrase from ``$QUANTDESK_KEYRING_PASSPHRASE`` or, in a
terminal, a prompt. Config refers to a secret by its name (``tushare``, say).

Keyrings cannot list what they hold, so the names (not the values) are kept as one
more entry of the same keyring.
"""

from __future__ import annotations

import base64
import configparser
import getpass
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from services.ops.redact import remember

SERVICE = "quantdesk"
NAMES = "__names__"  # the entry listing the names of the secrets (never their values)
PASSPHRASE_ENV = "QUANTDESK_KEYRING_PASSPHRASE"
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
# backends that are not a real desktop keyring: none, a chain of them, or a file
NOT_SYSTEM = ("keyring.backends.fail", "keyring.backends.chainer", "keyring.backends.null")


class SecretsError(RuntimeError):
    """The keyring cannot be used as asked; the message says what to do."""


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise SecretsError(
            f"secret names are a letter then letters, digits, '_', '.' or '-' "
            f"(at most 64), e.g. tushare or broker.password; got {name!r}"
        )
    if name == NAMES:
        raise SecretsError(f"{NAMES} is reserved")
    return name


def open_keyring(prompt: bool = True) -> Any:
    """The desktop keyring if there is one, else the encrypted-file keyring, unlocked."""
    import keyring.backend

    system = [
        b
        for b in keyring.backend.get_all_keyring()
        if b.priority > 0
        and type(b).__module__ not in NOT_SYSTEM
        and not type(b).__module__.startswith("keyrings.cryptfile")
    ]
    if system:
        return max(system, key=lambda b: b.priority)
    from keyrings.cryptfile.cryptfile import CryptFileKeyring

    passphrase = os.environ.get(PASSPHRASE_ENV, "")
    if not passphrase:
        if not (prompt and sys.stdin.isatty()):
            raise SecretsError(
                f"no desktop keyring here: the encrypted file keyring needs its passphrase "
                f"in ${PASSPHRASE_ENV} (or run this in a terminal to be asked for it)"
            )
        passphrase = getpass.getpass("keyring passphrase: ")
    remember(passphrase)
    ring = CryptFileKeyring()
    check_keyring_file(Path(ring.file_path))  # before cryptfile could start one over it
    try:
        ring.keyring_key = passphrase  # unlocks (or creates) the file
    except ValueError:  # "MAC check failed", "Incorrect Password"
        raise SecretsError(
            f"the keyring file {ring.file_path} would not open with that passphrase: check "
            f"${PASSPHRASE_ENV} (or the file was altered: restore it from a backup)"
        ) from None
    return ring


def check_keyring_file(path: Path) -> None:
    """A keyring file that exists must be one: readable, with its password check entry
    whole. keyrings.cryptfile would treat a file without that entry as new and write one,
    and ``secrets list`` then said "no secrets stored"; random bytes were blamed on the
    passphrase. Damage is a :class:`SecretsError` naming the file and what to do."""
    if not path.exists():
        return
    config = configparser.RawConfigParser()
    try:
        if path.stat().st_size == 0:
            raise ValueError("the file is empty")
        config.read(path, encoding="utf-8")
        reference = config.get("keyring_2Dsetting", "password_20reference")
        fields = json.loads(base64.decodebytes(reference.encode()).decode())
        if not {"salt", "data", "mac", "nonce"} <= set(fields):
            raise ValueError("its password check entry is incomplete")
    except (OSError, ValueError, configparser.Error) as exc:
        why = (
            "its password check entry is missing"
            if isinstance(exc, configparser.NoSectionError | configparser.NoOptionError)
            else str(exc).splitlines()[0][:120]
        )
        raise SecretsError(
            f"the keyring file {path} cannot be read ({why}): it is damaged or not a "
            "keyrings.cryptfile file. It is left as it is: restore it from a backup, or move "
            "it aside and store each secret again (quantdesk secrets set NAME)"
        ) from None


class Secrets:
    """Named secrets in a keyring."""

    def __init__(self, ring: Any) -> None:
        self.ring = ring

    def _get(self, key: str) -> str | None:
        try:
            value: str | None = self.ring.get_password(SERVICE, key)
        except (ValueError, TypeError, KeyError) as exc:  # damaged: base64, JSON or the MAC
            where = getattr(self.ring, "file_path", "the keyring")
            what = "the list of secret names" if key == NAMES else f"the secret {key}"
            again = "store each secret again" if key == NAMES else f"quantdesk secrets set {key}"
            raise SecretsError(
                f"{what} in {where} cannot be decrypted ({type(exc).__name__}: {exc}): the "
                f"entry is damaged; restore the file from a backup, or {again}"
            ) from None
        if key != NAMES:
            remember(value)  # from now on masked wherever text leaves the process
        return value

    def names(self) -> list[str]:
        raw = self._get(NAMES) or "[]"
        try:
            names = json.loads(raw)
            if not isinstance(names, list):
                raise ValueError("not a list")
        except ValueError as exc:
            raise SecretsError(
                f"the list of secret names in the keyring cannot be read ({exc}): restore the "
                "keyring file from a backup"
            ) from None
        return sorted(str(n) for n in names)

    def get(self, name: str) -> str | None:
        return self._get(check_name(name))

    def set(self, name: str, value: str) -> None:
        check_name(name)
        if not value:
            raise SecretsError(f"an empty value for {name}: nothing stored")
        names = self.names()  # also checks the passphrase before anything is written
        remember(value)
        self.ring.set_password(SERVICE, name, value)
        self.ring.set_password(SERVICE, NAMES, json.dumps(sorted({*names, name})))

    def delete(self, name: str) -> bool:
        check_name(name)
        if self._get(name) is None:
            return False
        self.ring.delete_password(SERVICE, name)
        self.ring.set_password(SERVICE, NAMES, json.dumps([n for n in self.names() if n != name]))
        return True

    @property
    def backend(self) -> str:
        kind = type(self.ring)
        where = getattr(self.ring, "file_path", "")
        return f"{kind.__module__}.{kind.__name__}" + (f" ({where})" if where else "")
