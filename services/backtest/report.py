"""A self-contained HTML report of a run: metrics, equity, drawdown, trades, heatmap.

Plotly's JavaScript is embedded once, so the file opens in a browser with no
network. The input is the run document of ``request.execute`` (saved runs
included), so a report can be written long after the run.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from services.backtest.spec import RunDoc, format_value, prices_line
from services.ops.paths import output_file, write_error

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{padding:2px 10px;text-align:right}
th{background:#eee}td:first-child,th:first-child{text-align:left}
.muted{color:#777;font-size:90%}
"""


def write_report(doc: RunDoc, path: Path) -> Path:
    """Write the report for ``doc`` to ``path`` (its folder made if missing); PathError
    (a ValueError) says why not, and nothing half-written is left."""
    output_file(path, "the report")
    tmp = path.with_name(path.name + ".part")
    try:
        tmp.write_text(render(doc), encoding="utf-8")
        tmp.replace(path)  # never a half-written report
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_error(path, exc, "the report") from None
    return path


def render(doc: RunDoc) -> str:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    parts = [f"<h1>{_e(doc['strategy'])} on {_e(doc['symbol'])}</h1>"]
    params = ", ".join(f"{k} = {v:g}" for k, v in doc["params"].items())
    parts.append(
        f"<p>{_e(doc['start'])} → {_e(doc['end'])}, {_e(doc['freq'])} bars, "
        f"adjust {_e(doc['adjust'])}; parameters {_e(params)}</p>"
    )
    if doc.get("adjusted"):
        parts.append(f"<p>{_e(prices_line(doc))}</p>")
    meta = {k: doc[k] for k in ("run_id", "snapshot", "code_version", "created") if k in doc}
    if meta:
        parts.append(f"<p class=muted>{_e(str(meta))}</p>")
    parts.append(_metrics_table(doc))
    if doc.get("dividends"):
        parts.append(_table("Dividends received (net of tax)", doc.get("dividends", [])))
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.04
    )
    fig.add_trace(
        go.Scatter(x=doc["equity"]["time"], y=doc["equity"]["value"], name="equity"), 1, 1
    )
    fig.add_trace(
        go.Scatter(
            x=doc["drawdown"]["time"],
            y=doc["drawdown"]["value"],
            name="drawdown",
            fill="tozeroy",
            line={"color": "#c0392b"},
        ),
        2,
        1,
    )
    if "oos" in doc:
        fig.add_trace(
            go.Scatter(
                x=doc["oos"]["equity"]["time"],
                y=doc["oos"]["equity"]["value"],
                name="out of sample",
            ),
            1,
            1,
        )
    fig.update_layout(height=560, margin={"t": 30, "b": 30}, title="Equity and drawdown")
    parts.append(fig.to_html(full_html=False, include_plotlyjs=True))
    if "heatmap" in doc:
        h = doc["heatmap"]
        heat = go.Figure(
            go.Heatmap(
                z=h["values"], x=h["columns"]["values"], y=h["rows"]["values"], colorscale="RdYlGn"
            )
        )
        heat.update_layout(
            title=f"{h['metric']} by {h['rows']['name']} (rows) "
            f"and {h['columns']['name']} (columns)",
            xaxis_title=h["columns"]["name"],
            yaxis_title=h["rows"]["name"],
            height=520,
        )
        parts.append(heat.to_html(full_html=False, include_plotlyjs=False))
    if "walk_forward" in doc:
        wf = doc["walk_forward"]
        wfig = go.Figure(
            go.Scatter(x=wf["equity"]["time"], y=wf["equity"]["value"], name="stitched")
        )
        wfig.update_layout(
            title=f"Walk-forward {wf['train']}:{wf['test']} out-of-sample equity", height=360
        )
        parts.append(wfig.to_html(full_html=False, include_plotlyjs=False))
        parts.append(_table("Walk-forward windows", wf["windows"]))
    if "sweep" in doc:
        rows = [{**r["params"], **r["metrics"]} for r in doc["sweep"][:20]]
        parts.append(_table(f"Best {len(rows)} of {len(doc['sweep'])} combinations", rows))
    parts.append(_table(f"Trades ({len(doc['trades'])} closed)", doc["trades"]))
    body = "\n".join(parts)
    title = _e(f"quantdesk backtest: {doc['strategy']} {doc['symbol']}")
    head = f"<meta charset=utf-8><title>{title}</title><style>{STYLE}</style>"
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>"


def _metrics_table(doc: RunDoc) -> str:
    head = (
        "<tr><th>metric</th><th>value</th>"
        + ("<th>out of sample</th>" if "oos" in doc else "")
        + "</tr>"
    )
    rows = []
    for name, value in doc["metrics"].items():
        cells = f"<td>{_e(name)}</td><td>{_fmt(name, value)}</td>"
        if "oos" in doc:
            cells += f"<td>{_fmt(name, doc['oos']['metrics'][name])}</td>"
        rows.append(f"<tr>{cells}</tr>")
    return f"<h2>Metrics</h2><table>{head}{''.join(rows)}</table>"


def _table(title: str, rows: list[dict[str, Any]]) -> str:
    if not rows:
        return f"<h2>{_e(title)}</h2><p>none</p>"
    cols = list(rows[0])
    head = "".join(f"<th>{_e(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{_fmt(c, r.get(c))}</td>" for c in cols) + "</tr>" for r in rows
    )
    return f"<h2>{_e(title)}</h2><table><tr>{head}</tr>{body}</table>"


def _fmt(name: str, value: Any) -> str:
    return _e(format_value(name, value))


def _e(text: str) -> str:
    return html.escape(text, quote=True)
