"""A control channel for other shells: ``quantdesk halt`` reaches a running instance.

A Unix socket in Linux's abstract namespace, named after the data directory
(no file to clean up after a SIGKILL, no path-length limit). Its own thread
answers, so a halt lands within a second even when the UI thread is busy:
the handler calls the kill switch directly (HALT, then cancel every working
order), never through the UI or the bus queue.

An abstract socket has no file permissions, so both ends check the other's
credentials (``SO_PEERCRED``): the server answers only its own user or root,
and the client talks only to a server run by its own user or root -- another
user can neither halt an instance nor squat the address to fake a "halted".
Each connection is served in its own short-lived thread with a timeout, so a
client that holds a connection open cannot delay a halt.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("quantdesk.control")

CONNECTION_TIMEOUT_S = 1.0
MAX_CONNECTIONS = 8  # trusted requests served at once
BACKLOG = 128  # connections queued before accept: a flood of refused peers cannot fill it
WATCH_S = 0.5  # how often the journal is read for a HALT written by another process
CONNECT_TRIES_S = 2.0  # how long a client keeps trying to connect to a busy socket


class ControlChannelError(RuntimeError):
    """The control address is unusable: held by something else, or untrusted."""


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a connected Unix socket."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def trusted(uid: int, own_uid: int | None = None) -> bool:
    """Only the same user, or root, may control an instance (or answer for one)."""
    own = os.getuid() if own_uid is None else own_uid
    return uid == own or uid == 0


def address(data_dir: Path) -> str:
    digest = hashlib.sha1(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return f"\0quantdesk-{digest}"


class ControlServer:
    """The socket, and its fallback: ``watch`` (every WATCH_S) takes up a HALT that
    ``quantdesk halt`` wrote to the journal when it could not get through."""

    def __init__(
        self,
        data_dir: Path,
        on_halt: Callable[[str], list[str]],
        mode: str = "demo",
        watch: Callable[[], object] | None = None,
    ) -> None:
        self.mode = mode  # whose account this instance trades (``quantdesk halt --mode``)
        self.address = address(data_dir)
        self.on_halt = on_halt
        self.watch = watch
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._stopped = threading.Event()
        self._refused: dict[int, float] = {}  # uid -> when its refusal was last logged

    def start(self) -> None:
        """Listen, or raise :class:`ControlChannelError` when the address is taken.

        The caller holds the data directory's lock, so whatever holds the address is
        not a quantdesk of this directory: refuse rather than run without a halt channel.
        """
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(self.address)
        except OSError as exc:
            sock.close()
            raise ControlChannelError(
                f"the control address of this data directory ({self.address[1:]!r}) is held "
                f"by another process ({exc.strerror}): `quantdesk halt` could not reach this "
                "instance. Find it with `ss -xlp | grep quantdesk-` and stop it"
            ) from exc
        sock.listen(BACKLOG)
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, name="control", daemon=True)
        self._thread.start()
        if self.watch is not None:
            threading.Thread(target=self._watch, name="control-watch", daemon=True).start()

    def _watch(self) -> None:
        while not self._stopped.wait(WATCH_S):
            try:
                assert self.watch is not None
                self.watch()
            except Exception:  # the watch must outlive one bad read
                log.exception("reading the persisted trading state failed")

    def stop(self) -> None:
        self._stopped.set()
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _serve(self) -> None:
        while self._sock is not None:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return  # closed
            try:
                uid = peer_uid(conn)
            except OSError:
                conn.close()
                continue
            if not trusted(uid):
                self._refuse(conn, uid)
                continue
            if not self._slots.acquire(blocking=False):  # too many held open: drop this one
                conn.close()
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _refuse(self, conn: socket.socket, uid: int) -> None:
        """Another user: one line, never waited on (a peer that does not read cannot hold
        this thread), logged once per uid and minute (a flood is not a log flood)."""
        with contextlib.suppress(OSError):
            conn.setblocking(False)
            conn.send(b"error forbidden\n")
        conn.close()
        now = time.monotonic()
        if now - self._refused.get(uid, -60.0) >= 60.0:
            self._refused[uid] = now
            log.warning("control connection from uid %d refused (not this user or root)", uid)

    def _handle(self, conn: socket.socket) -> None:
        try:
            with conn:
                conn.settimeout(CONNECTION_TIMEOUT_S)
                line = conn.recv(1024).decode("utf-8", "replace").strip()
                conn.sendall((self._answer(line) + "\n").encode())
        except OSError as exc:
            log.warning("control request failed: %s", exc)
        finally:
            self._slots.release()

    def _answer(self, line: str) -> str:
        command, _, arg = line.partition(" ")
        if command == "ping":
            return f"pong {os.getpid()}"
        if command == "mode":
            return self.mode
        if command == "halt":
            cancelled = self.on_halt(arg or "quantdesk halt")
            log.warning("halted from another shell: %d cancels sent", len(cancelled))
            return f"halted {len(cancelled)}"
        return f"error unknown command {command!r}"


def request(data_dir: Path, line: str, timeout: float = 1.0) -> str | None:
    """Send one command to the instance on ``data_dir``; None when none is running.

    A socket too busy to take the connection (its queue full: a flood) is tried again
    for CONNECT_TRIES_S. TimeoutError when one is listening but cannot be reached or does
    not answer within ``timeout``; :class:`ControlChannelError` when the listener is not
    run by this user or root.
    """
    sock = _connect(address(data_dir), timeout)
    if sock is None:
        return None
    try:
        uid = peer_uid(sock)
        if not trusted(uid):
            raise ControlChannelError(
                f"the control address of {data_dir} is held by uid {uid}, not by this user or "
                "root: it is not a quantdesk you own, and nothing was sent to it"
            )
        # A refusal is written and closed before the request is read: the send then breaks
        # the pipe, and the answer is waiting to be read all the same.
        with contextlib.suppress(BrokenPipeError):
            sock.sendall((line + "\n").encode())
        return sock.recv(1024).decode().strip()
    finally:
        sock.close()


def _connect(where: str, timeout: float) -> socket.socket | None:
    """A connected socket; None when nothing listens; TimeoutError when the listener's
    queue stays full (EAGAIN) for CONNECT_TRIES_S."""
    deadline = time.monotonic() + CONNECT_TRIES_S
    wait = 0.005
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(where)
            return sock
        except (ConnectionRefusedError, FileNotFoundError):
            sock.close()
            return None
        except (BlockingIOError, InterruptedError):  # the queue is full: try again shortly
            sock.close()
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"the control socket stayed too busy to connect for {CONNECT_TRIES_S:g} s"
                ) from None
            time.sleep(wait)
            wait = min(wait * 2, 0.1)
        except BaseException:
            sock.close()
            raise
