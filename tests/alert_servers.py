"""Local stand-ins of the services alerts go to, for the tests: a recording HTTP server
(WeCom, ServerChan, DingTalk, Feishu, PushPlus, ntfy and apprise's json:// all POST to
one), a Telegram Bot API (getMe, getUpdates with long polling, sendMessage) and an SMTP
server (aiosmtpd, with AUTH as apprise logs in).

Each is a real server on 127.0.0.1; apprise's plugins with a fixed host are pointed at
it through their ``notify_url`` (:func:`redirect`), everything else they do is theirs.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class Script:
    """How the server answers: a status, a body, a delay (a hung service)."""

    status: int = 200
    body: bytes = b'{"errcode": 0, "errmsg": "ok", "code": 0, "code_": 200}'
    delay_s: float = 0.0


class HTTPStandIn:
    """A recording HTTP server; ``script`` decides every answer."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.script = Script()
        self._lock = threading.Lock()
        self.arrived = threading.Condition(self._lock)
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                with stand_in.arrived:
                    stand_in.requests.append(
                        Request(
                            self.command,
                            parts.path,
                            parse_qs(parts.query),
                            dict(self.headers),
                            body,
                        )
                    )
                    stand_in.arrived.notify_all()
                script = stand_in.script
                if script.delay_s:
                    time.sleep(script.delay_s)
                try:
                    self.send_response(script.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(script.body)))
                    self.end_headers()
                    self.wfile.write(script.body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up
                    pass

            do_POST = do_GET = do_PUT = _any

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, n: int, timeout: float = 10.0) -> list[Request]:
        """Until ``n`` requests arrived; all of them."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.requests)} of {n} requests arrived")
                self.arrived.wait(left)
            return list(self.requests)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def redirect(monkeypatch: Any, plugin: type, local: str) -> None:
    """Point an apprise plugin with a fixed host (WeCom's, DingTalk's...) at ``local``:
    the same path and query template, on the stand-in."""
    template = plugin.notify_url  # type: ignore[attr-defined]
    parts = urlsplit(template.replace("{", "%7B").replace("}", "%7D"))
    path = template[template.index(parts.netloc) + len(parts.netloc) :]
    monkeypatch.setattr(plugin, "notify_url", local + path)


@dataclass
class BotAPI:
    """A Telegram Bot API on 127.0.0.1: messages a test sends "from a phone" are served
    by getUpdates (long polling, offsets as Telegram keeps them); what the bot sends is
    recorded. The same server takes apprise's tgram:// sendMessage."""

    token: str = "123456:TEST-token-abcdef"
    updates: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    # the next getUpdates answers, as raw (status, body): what a broken proxy sends
    raw: list[tuple[int, bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        self._next = 1
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                kind = self.headers.get("Content-Type", "")
                params = (
                    json.loads(raw)
                    if "json" in kind and raw
                    else {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                )
                prefix, _, method = self.path.lstrip("/").partition("/")
                if prefix != f"bot{api.token}":
                    return self._reply(
                        401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
                    )
                api.calls.append(method)
                if method == "getMe":
                    return self._reply(
                        200,
                        {
                            "ok": True,
                            "result": {
                                "id": 123456,
                                "is_bot": True,
                                "first_name": "qd",
                                "username": "qd_bot",
                            },
                        },
                    )
                if method == "getUpdates" and api.raw:
                    status, body = api.raw.pop(0)
                    return self._send(status, body)
                if method == "getUpdates":
                    return self._reply(200, {"ok": True, "result": api._poll(params)})
                if method == "sendMessage":
                    with api._cond:
                        api.sent.append(params)
                        api._cond.notify_all()
                    return self._reply(
                        200,
                        {
                            "ok": True,
                            "result": {
                                "message_id": len(api.sent),
                                "date": int(time.time()),
                                "chat": {"id": int(params["chat_id"]), "type": "private"},
                                "text": params.get("text", ""),
                            },
                        },
                    )
                return self._reply(
                    404, {"ok": False, "error_code": 404, "description": "Not Found"}
                )

            def _reply(self, status: int, doc: dict[str, Any]) -> None:
                self._send(status, json.dumps(doc).encode())

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _poll(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + min(timeout, 2.0)  # short polls keep the tests quick
        with self._cond:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            while not self.updates and time.monotonic() < deadline:
                self._cond.wait(deadline - time.monotonic())
            return list(self.updates)

    def push(self, update: dict[str, Any]) -> None:
        """Any update as the Bot API would serve it (``update_id`` given the next number)."""
        with self._cond:
            self.updates.append({**update, "update_id": self._next})
            self._next += 1
            self._cond.notify_all()

    def say(self, chat: int, text: str, age_s: float = 0.0, user: str = "trader") -> None:
        """A message to the bot from ``chat``, sent ``age_s`` ago."""
        with self._cond:
            self.updates.append(
                {
                    "update_id": self._next,
                    "message": {
                        "message_id": self._next,
                        "date": int(time.time() - age_s),
                        "chat": {"id": chat, "type": "private"},
                        "from": {"id": chat, "is_bot": False, "first_name": user, "username": user},
                        "text": text,
                    },
                }
            )
            self._next += 1
            self._cond.notify_all()

    def replies(self, chat: int, n: int, timeout: float = 10.0) -> list[str]:
        """Until ``n`` messages were sent to ``chat``; their texts."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                texts = [m["text"] for m in self.sent if int(m["chat_id"]) == chat]
                if len(texts) >= n:
                    return texts
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(texts)} of {n} replies to {chat}: {texts}")
                self._cond.wait(left)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def smtp_server(
    user: str = "alerts", password: str = "s3cret-pass"
) -> Iterator[tuple[int, list[Message]]]:
    """aiosmtpd on 127.0.0.1 with AUTH (apprise logs in) over plain SMTP; the port and
    the messages it received."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    received: list[Message] = []

    class Keep:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(message_from_bytes(envelope.content))
            return "250 OK"

    def auth(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            user.encode(),
            password.encode(),
        )
        return AuthResult(success=ok)

    with socket.socket() as probe:  # aiosmtpd checks its own port: it must be known first
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(
        Keep(), hostname="127.0.0.1", port=port, authenticator=auth, auth_require_tls=False
    )
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()
