"""The store's failures of the storage itself, said once and with what to do; and room on
its disk checked before every write.

ArcticDB raises its own exceptions when an LMDB library is damaged, its map or the
disk is full, or data cannot be decoded; through quantdesk they were tracebacks from
whichever command touched the store. Every public method of
:class:`services.store.Store` is wrapped: such a failure becomes a ``StoreError``
naming the store and what to do. "No such symbol" is not one of them: callers handle it.

A full disk is not one ArcticDB survives: on LMDB its write crashes the whole process
(a segmentation fault, or "double free or corruption" at exit; bench-free reproduction
in the README's known issues). So every write-type call on a library first asks for
room: :class:`RoomChecked` estimates the bytes and the store refuses the write while
its disk has less free than that (and a margin) -- nothing is written, nothing crashes.
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


WRITES = frozenset(
    {
        "write",
        "append",
        "update",
        "write_batch",
        "append_batch",
        "update_batch",
        "write_metadata",
        "write_metadata_batch",
        "write_pickle",
        "snapshot",
        "compact_data",
        "delete",
        "delete_data_in_range",
    }
)


def size_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """About how many bytes a write's data holds (frames, and batches of payloads)."""
    total = 0
    for value in (*args, *kwargs.values()):
        frames = value if isinstance(value, list) else [value]
        for item in frames:
            data = getattr(item, "data", item)
            usage = getattr(data, "memory_usage", None)
            if usage is not None:
                total += int(usage(index=True).sum())
    return total


class RoomChecked:
    """An ArcticDB library whose writes first call ``room(bytes)`` (which refuses them
    while the disk is too full); everything else passes through unchanged."""

    def __init__(self, lib: Any, room: Callable[[int], None]) -> None:
        self._lib, self._room = lib, room

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._lib, name)
        if name not in WRITES:
            return attr

        def write(*args: Any, **kwargs: Any) -> Any:
            self._room(size_of(args, kwargs))
            return attr(*args, **kwargs)

        return write


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
