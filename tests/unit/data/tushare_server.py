"""A local stand-in for Tushare Pro's HTTP API: POST JSON in, Tushare's exact JSON out
(``code``/``msg``/``data.fields``/``data.items``, newest first), and its refusals."""

from __future__ import annotations

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DAILY_FIELDS = [
    "ts_code",
    "trade_date",
    "open",
    "high",
    "low",
    "close",
    "pre_close",
    "change",
    "pct_chg",
    "vol",
    "amount",
]
# 贵州茅台, 2024-01-02..2024-01-05 as Tushare lists them (vol in lots, amount in 千元)
DAILY = [
    [
        "600519.SH",
        "20240105",
        1701.0,
        1715.0,
        1684.0,
        1690.0,
        1701.0,
        -11.0,
        -0.6467,
        24380.64,
        4131946.372,
    ],
    [
        "600519.SH",
        "20240104",
        1712.0,
        1728.5,
        1700.0,
        1701.0,
        1712.0,
        -11.0,
        -0.6425,
        20658.45,
        3531412.521,
    ],
    [
        "600519.SH",
        "20240103",
        1710.0,
        1721.0,
        1702.0,
        1712.0,
        1710.0,
        2.0,
        0.117,
        19923.67,
        3411049.778,
    ],
    [
        "600519.SH",
        "20240102",
        1728.0,
        1730.0,
        1705.0,
        1710.0,
        1726.0,
        -16.0,
        -0.927,
        32156.36,
        5510023.119,
    ],
]
ADJ = [
    ["600519.SH", "20240105", 8.4167],
    ["600519.SH", "20240104", 8.4167],
    ["600519.SH", "20230627", 8.4167],
    ["600519.SH", "20230626", 8.2315],
]
DIVIDEND_FIELDS = [
    "ts_code",
    "end_date",
    "ann_date",
    "div_proc",
    "stk_div",
    "stk_bo_rate",
    "stk_co_rate",
    "cash_div",
    "cash_div_tax",
    "record_date",
    "ex_date",
    "pay_date",
    "div_listdate",
    "imp_ann_date",
]
NO_DATES = [None, None, None, None, None]
DIVIDEND = [  # newest first; a plan (预案) has no dates yet
    ["600519.SH", "20231231", "20240403", "预案", 0.0, None, None, 0.0, 30.876, *NO_DATES],
    [
        *["600519.SH", "20230630", "20231114", "实施", 0.0, None, None, 19.719, 21.91],
        *["20231219", "20231220", "20231220", None, "20231214"],
    ],
    [
        *["600519.SH", "20101231", "20110413", "实施", 0.1, 0.1, None, 2.07, 2.3],
        *["20110630", "20110701", "20110701", "20110704", "20110627"],
    ],
]
CAL = [
    ["SSE", "20240105", 1, "20240104"],
    ["SSE", "20240104", 1, "20240103"],
    ["SSE", "20240103", 1, "20240102"],
    ["SSE", "20240102", 1, "20231229"],
    ["SSE", "20240101", 0, "20231229"],
    ["SSE", "20231229", 1, "20231228"],
]


def ok(fields: list[str], items: list[list[Any]]) -> dict[str, Any]:
    return {
        "request_id": "3f6c5a2e",
        "code": 0,
        "msg": "",
        "data": {"fields": fields, "items": items, "has_more": False},
    }


class TushareServer:
    def __init__(self, token: str) -> None:
        self.token = token
        self.script: deque[tuple[Any, ...]] = deque()
        self.calls: list[dict[str, Any]] = []
        self.refused: set[str] = set()  # APIs the token has too few points for
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.calls.append(body)
                status, ctype, payload = server.answer(body)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> TushareServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def answer(self, body: dict[str, Any]) -> tuple[int, str, bytes]:
        action = self.script.popleft() if self.script else ("ok",)
        if action[0] == "html":
            return 502, "text/html", b"<html><body>502 Bad Gateway</body></html>"
        if action[0] == "limit":
            doc: dict[str, Any] = {
                "code": 40203,
                "msg": "抱歉，您每分钟最多访问该接口500次，权限的具体详情访问："
                "https://tushare.pro/document/1?doc_id=108。",
                "data": None,
            }
        elif action[0] == "echo":  # a refusal that quotes the token it was sent
            doc = {"code": 40101, "msg": f"token {body.get('token')} 已失效，请更换", "data": None}
        elif body.get("token") != self.token:
            doc = {"code": -2001, "msg": "您的token不对，请确认。", "data": None}
        elif action[0] == "empty":
            doc = ok(DAILY_FIELDS, [])
        else:
            api = body["api_name"]
            if api in self.refused:
                doc = {"code": 40203, "msg": "抱歉，您没有访问该接口的权限", "data": None}
            elif api in ("daily", "fund_daily", "index_daily"):
                doc = ok(DAILY_FIELDS, DAILY)
            elif api == "adj_factor":
                doc = ok(["ts_code", "trade_date", "adj_factor"], ADJ)
            elif api == "dividend":
                doc = ok(DIVIDEND_FIELDS, DIVIDEND)
            elif api == "trade_cal":
                doc = ok(["exchange", "cal_date", "is_open", "pretrade_date"], CAL)
            elif api == "stock_basic":
                doc = ok(["ts_code", "symbol", "name"], [["600519.SH", "600519", "贵州茅台"]])
            else:
                doc = {"code": 40203, "msg": "抱歉，您没有访问该接口的权限", "data": None}
        return 200, "application/json", json.dumps(doc, ensure_ascii=False).encode()
