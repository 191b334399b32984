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
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("quantdesk.control")

CONNECTION_TIMEOUT_S = 1.0
MAX_CONNECTIONS = 8


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
    def __init__(
        self, data_dir: Path, on_halt: Callable[[str], list[str]], mode: str = "demo"
    ) -> None:
        self.mode = mode  # whose account this instance trades (``quantdesk halt --mode``)
        self.address = address(data_dir)
        self.on_halt = on_halt
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

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
        sock.listen(MAX_CONNECTIONS)
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, name="control", daemon=True)
        self._thread.start()

    def stop(self) -> None:
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
                log.warning("control connection from uid %d refused (not this user or root)", uid)
                with contextlib.suppress(OSError):
                    conn.sendall(b"error forbidden\n")
                conn.close()
                continue
            if not self._slots.acquire(blocking=False):  # too many held open: drop this one
                conn.close()
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

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

    TimeoutError when one is listening but does not answer within ``timeout``;
    :class:`ControlChannelError` when the listener is not run by this user or root.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(address(data_dir))
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
    except (ConnectionRefusedError, FileNotFoundError):
        return None
    finally:
        sock.close()
