"""A local stand-in for Sina's quote endpoint: real HTTP on a real socket, answering in
the exact wire format (GBK, one ``var hq_str_…`` line per code), and failing on cue the
ways the real one does: a ban (403), a 5xx, an HTML error page, an empty or truncated
body, a dropped connection, a request that never answers in time."""

from __future__ import annotations

import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from services.feed import sina
from services.venues.quote import Quote


class SinaServer:
    def __init__(self) -> None:
        self.quotes: dict[str, Quote] = {}  # what the market shows, by vt_symbol
        self.status: dict[str, str] = {}  # vt_symbol -> Sina status field (suspended ...)
        self.script: deque[tuple[Any, ...]] = deque()  # one action per request, then "ok"
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.on_request: Any = None  # called before each answer (a market that moves)
        server = self
        self._stopped = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append((self.path, dict(self.headers)))
                if server.on_request is not None:
                    server.on_request()
                action = server.script.popleft() if server.script else ("ok",)
                server.act(self, action)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> SinaServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def body(self, path: str) -> bytes:
        codes = path.split("list=", 1)[1].split(",") if "list=" in path else []
        lines = []
        for code in codes:
            vt_symbol = f"{code[2:]}.{sina.EXCHANGE.get(code[:2], '?')}"
            quote = self.quotes.get(vt_symbol)
            if quote is None:
                lines.append(f'var hq_str_{code}="";')
            else:
                lines.append(sina.format_line(quote, self.status.get(vt_symbol, "00")))
        return ("\n".join(lines) + "\n").encode("gbk")

    def act(self, h: BaseHTTPRequestHandler, action: tuple[Any, ...]) -> None:
        kind = action[0]
        if kind == "drop":  # the connection closes before any answer
            h.close_connection = True
            h.connection.close()
            return
        if kind == "slow":
            self._stopped.wait(action[1])
            kind = "ok"
        status, body, ctype = 200, b"", "application/javascript; charset=GBK"
        if kind == "ok":
            body = self.body(h.path)
        elif kind == "ban":
            status, body, ctype = 403, b"Forbidden", "text/plain"
        elif kind == "5xx":
            status, body, ctype = 502, b"<html><body>502 Bad Gateway</body></html>", "text/html"
        elif kind == "html":
            body, ctype = "<html><head><title>新浪</title></head></html>".encode("gbk"), "text/html"
        elif kind == "empty":
            body = b""
        elif kind == "truncated":  # the body stops mid-line and the connection closes
            full = self.body(h.path)
            h.send_response(200)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(full)))
            h.end_headers()
            h.wfile.write(full[: len(full) // 2])
            h.wfile.flush()
            h.close_connection = True
            h.connection.close()
            return
        elif kind == "cut":  # a complete HTTP answer whose body is cut mid-line
            full = self.body(h.path)
            body = full[: len(full) // 2]
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)


def wait_for(predicate: Any, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return False
