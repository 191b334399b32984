"""The store's failures of the storage itself, said once and with what to do.

ArcticDB raises its own exceptions when an LMDB library is damaged, its map or the
disk is full, or data cannot be decoded; through quantdesk they were tracebacks from
whichever command touched the store. Every public method of
:class:`services.store.Store` is wrapped: such a failure becomes a ``StoreError``
naming the store and what to do. "No such symbol" is not one of them: callers handle it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from services.ops.redact import redact

GUARDED = (
    "library",
    "meta",
    "metas",
    "symbols",
    "delete",
    "read_bars",
    "read_pit",
    "read_many",
    "read_panel",
    "calendar",
    "write_calendar",
    "write_bars",
    "write_many",
    "fold",
    "quarantined",
    "snapshot",
)


def damage() -> tuple[type[BaseException], ...]:
    """ArcticDB's failures of the storage (imported when a failure is being matched)."""
    from arcticdb_ext.exceptions import (
        CodecException,
        CompatibilityException,
        InternalException,
        StorageException,
    )

    return (InternalException, StorageException, CodecException, CompatibilityException)


def failure(uri: str, exc: BaseException) -> str:
    """What a failure of the store at ``uri`` means, and what to do."""
    text = redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    if "MapFull" in type(exc).__name__ or "No space" in text or "MAP_FULL" in text:
        return f"the store {redact(uri)} is full ({text}): free disk space, then retry"
    where = uri.removeprefix("lmdb://").split("?")[0]
    return (
        f"the store {redact(uri)} cannot be read or written ({type(exc).__name__}: {text}). "
        f"If it is damaged, restore it from a backup (quantdesk restore), or move {where} "
        "aside and fetch the data again (quantdesk data sync, or data demo)"
    )


def guard(cls: type, error: type[Exception]) -> None:
    """Wrap ``cls``'s GUARDED methods: the storage's own failures raise ``error``."""
    for name in GUARDED:
        method: Callable[..., Any] = getattr(cls, name)

        def call(self: Any, *args: Any, _method: Callable[..., Any] = method, **kw: Any) -> Any:
            try:
                return _method(self, *args, **kw)
            except error:
                raise
            except damage() as exc:
                raise error(failure(self.uri, exc)) from exc

        setattr(cls, name, functools.wraps(method)(call))
