"""A control channel for other shells: ``quantdesk halt`` reaches a running instance.

A Unix socket in Linux's abstract namespace, named after the data directory
(no file to clean up after a SIGKILL, no path-length limit). Its own thread
answers, so a halt lands within a second even when the UI thread is busy:
the handler calls the kill switch directly (HALT, then cancel every working
order), never through the UI or the bus queue.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("quantdesk.control")


def address(data_dir: Path) -> str:
    digest = hashlib.sha1(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return f"\0quantdesk-{digest}"


class ControlServer:
    def __init__(self, data_dir: Path, on_halt: Callable[[str], list[str]]) -> None:
        self.address = address(data_dir)
        self.on_halt = on_halt
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Listen; False (logged) when another instance already owns this data directory."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(self.address)
        except OSError:
            sock.close()
            log.error("another quantdesk is running on this data directory: no control channel")
            return False
        sock.listen(4)
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, name="control", daemon=True)
        self._thread.start()
        return True

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
            with conn:
                conn.settimeout(2)
                try:
                    line = conn.recv(1024).decode("utf-8", "replace").strip()
                    conn.sendall((self._answer(line) + "\n").encode())
                except OSError as exc:
                    log.warning("control request failed: %s", exc)

    def _answer(self, line: str) -> str:
        command, _, arg = line.partition(" ")
        if command == "ping":
            return f"pong {os.getpid()}"
        if command == "halt":
            cancelled = self.on_halt(arg or "quantdesk halt")
            log.warning("halted from another shell: %d cancels sent", len(cancelled))
            return f"halted {len(cancelled)}"
        return f"error unknown command {command!r}"


def request(data_dir: Path, line: str, timeout: float = 1.0) -> str | None:
    """Send one command to the instance on ``data_dir``; None when none is running.

    TimeoutError when one is listening but does not answer within ``timeout``.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(address(data_dir))
        sock.sendall((line + "\n").encode())
        return sock.recv(1024).decode().strip()
    except (ConnectionRefusedError, FileNotFoundError):
        return None
    finally:
        sock.close()
