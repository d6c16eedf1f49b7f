"""`make dashboards`: preview the template's CloudWatch dashboards with the embedded AWS's data.

The demo ends by saving every series the dashboards name to `.local/metrics.json`
(`save_metrics_snapshot`), because its moto server stops with it. This module then resolves each
`AWS::CloudWatch::Dashboard` body from template.yaml with the demo's deployment (parameters and
physical names), fills its metric widgets from the snapshot and writes one self-contained HTML
file per dashboard, with inline SVG charts, under `.local/dashboards/`. With `--png` and a
headless Chromium on PATH it also writes a PNG screenshot of each.

The AWS/Lambda, AWS/SQS and AWS/States series come from the harness, which puts them for each
local invocation, queue delivery and state machine execution (`harness.invoke`,
`harness.sqs_delivery`, `harness.stepfunctions`), because moto publishes no service metrics.

Logs Insights widgets are run by `harness.logs_insights` over the events of their log groups,
because moto 5.2.5's StartQuery parses only the `fields`, `sort` and `limit` commands and ignores
`filter` and `stats`. A query outside that module's subset shows its query and the reason.
"""

from __future__ import annotations

import argparse
import html
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from harness.alarms import Datapoint, evaluate_expression, fetch_series
from harness.deploy import DEPLOYMENT_FILE, Deployment
from harness.logs_insights import Event, QueryError, discover_fields, parse_query, run_query
from harness.paths import LOCAL
from harness.template import Resolver, load_sam_template, to_cloudformation

METRICS_SNAPSHOT = LOCAL / "metrics.json"
OUTPUT_DIR = LOCAL / "dashboards"
#: Window of the snapshot and of the charts; the weekly scrapers need a week to show a run.
WINDOW = timedelta(days=8)
FUTURE_DATAPOINTS = timedelta(hours=2)
_HOUR_SECONDS = 3600
_STANDARD_STATISTICS = frozenset({"SampleCount", "Sum", "Average", "Minimum", "Maximum"})
_GRID_UNIT_PX = 48  # one of the dashboard's 24 columns, and one row of height
#: DynamoDB publishes these only for periods with throttled requests, so no data means no throttling.
_THROTTLE_METRICS = frozenset(
    {
        ("AWS/DynamoDB", "ReadThrottleEvents"),
        ("AWS/DynamoDB", "WriteThrottleEvents"),
        ("AWS/DynamoDB", "ThrottledRequests"),
    }
)
_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")


@dataclass(frozen=True)
class MetricQuery:
    """One metric entry of a widget: a metric with its statistic and period, or an expression."""

    id: str
    label: str
    visible: bool
    namespace: str | None = None
    name: str | None = None
    dimensions: tuple[tuple[str, str], ...] = ()
    stat: str = "Average"
    period: int = 300
    region: str | None = None
    expression: str | None = None

    @property
    def key(self) -> str:
        return json.dumps([self.namespace, self.name, list(self.dimensions), self.stat, self.period])


# --- Dashboard bodies -----------------------------------------------------------------------------


def dashboard_bodies(deployment: Deployment) -> dict[str, dict[str, Any]]:
    """Resolve every dashboard of template.yaml with the deployment's parameters and resource names."""
    cloudformation, _ = to_cloudformation(load_sam_template(), deployment.region)

    def resource_value(logical_id: str, attribute: str | None) -> Any:
        created = deployment.resources.get(logical_id)
        if created is None:
            raise KeyError(f"{logical_id} is not in the deployment ({deployment.skipped.get(logical_id)})")
        return created[attribute or "Ref"]

    resolver = Resolver(
        parameters=deployment.parameters,
        pseudo={
            "AWS::Region": deployment.region,
            "AWS::AccountId": deployment.account_id,
            "AWS::Partition": "aws",
            "AWS::StackName": deployment.stack_name,
            "AWS::URLSuffix": "amazonaws.com",
        },
        conditions_source=cloudformation.get("Conditions", {}),
        resource_value=resource_value,
    )
    bodies = {}
    for resource in cloudformation["Resources"].values():
        if resource["Type"] != "AWS::CloudWatch::Dashboard":
            continue
        properties = resolver.resolve(resource["Properties"])
        body = properties["DashboardBody"]
        bodies[properties["DashboardName"]] = json.loads(body) if isinstance(body, str) else body
    return bodies


def widget_queries(widget: Mapping[str, Any], default_region: str) -> list[MetricQuery]:
    """Expand a metric widget's `metrics` arrays into queries; `"."` repeats the previous entry's value."""
    properties = widget.get("properties", {})
    queries: list[MetricQuery] = []
    previous: list[Any] = []
    for index, entry in enumerate(properties.get("metrics", [])):
        options = entry[-1] if entry and isinstance(entry[-1], dict) else {}
        parts = [part for part in entry if not isinstance(part, dict)]
        parts = [previous[i] if part == "." and i < len(previous) else part for i, part in enumerate(parts)]
        previous = parts
        query_id = str(options.get("id") or f"m{index}")
        if "expression" in options:
            queries.append(
                MetricQuery(
                    id=query_id,
                    label=str(options.get("label", options["expression"])),
                    visible=bool(options.get("visible", True)),
                    expression=str(options["expression"]),
                    period=int(options.get("period", properties.get("period", 300))),
                )
            )
            continue
        namespace, name, *pairs = parts
        dimensions = tuple(zip(pairs[0::2], pairs[1::2], strict=True))
        stat = str(options.get("stat", properties.get("stat", "Average")))
        label = options.get("label") or " ".join([name, *[value for _, value in dimensions], stat])
        queries.append(
            MetricQuery(
                id=query_id,
                label=str(label),
                visible=bool(options.get("visible", True)),
                namespace=namespace,
                name=name,
                dimensions=dimensions,
                stat=stat,
                period=int(options.get("period", properties.get("period", 300))),
                region=str(options.get("region", properties.get("region", default_region))),
            )
        )
    return queries


def _metric_widgets(bodies: Mapping[str, Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for body in bodies.values():
        for widget in body.get("widgets", []):
            if widget.get("type") == "metric":
                yield widget


# --- Snapshot -------------------------------------------------------------------------------------


def fetch_dashboard_series(
    cloudwatch: Any, bodies: Mapping[str, Mapping[str, Any]], region: str, now: datetime
) -> dict[str, list[list[Any]]]:
    """Fetch every series the metric widgets of `bodies` name, keyed by `MetricQuery.key`."""
    series: dict[str, list[list[Any]]] = {}
    for widget in _metric_widgets(bodies):
        for query in widget_queries(widget, region):
            if query.expression is not None or query.key in series or query.region != region:
                continue
            metric = {
                "Namespace": query.namespace,
                "MetricName": query.name,
                "Dimensions": [{"Name": key, "Value": value} for key, value in query.dimensions],
            }
            if query.stat in _STANDARD_STATISTICS:
                points = fetch_series(cloudwatch, metric, query.stat, query.period, now - WINDOW, now)
            else:
                points = _fetch_percentile_series(cloudwatch, metric, query.stat, query.period, now)
            series[query.key] = [[point.timestamp.isoformat(), point.value] for point in points]
    return series


def _fetch_percentile_series(
    cloudwatch: Any, metric: Mapping[str, Any], stat: str, period: int, now: datetime
) -> list[Datapoint]:
    """Fetch a percentile series over WINDOW, reading one-second buckets one period at a time.

    moto's GetMetricData compares every datapoint of the time range with every bucket, so one
    request of one-second buckets over days with data takes hours. SampleCounts find the periods
    with data first: per block of at least an hour, then per period inside each block with data.
    Blocks and periods start a whole number of periods after the window's start, so the values
    are the same as over the full window.
    """
    start = now - WINDOW
    block = period * -(-_HOUR_SECONDS // period)
    points: list[Datapoint] = []
    for counted_block in fetch_series(cloudwatch, metric, "SampleCount", block, start, now):
        block_end = min(now, counted_block.timestamp + timedelta(seconds=block))
        for counted in fetch_series(cloudwatch, metric, "SampleCount", period, counted_block.timestamp, block_end):
            end = min(now, counted.timestamp + timedelta(seconds=period))
            points += fetch_series(cloudwatch, metric, stat, period, counted.timestamp, end)
    return points


def save_metrics_snapshot(
    cloudwatch: Any, deployment: Deployment, path: Path, now: datetime, logs: Any | None = None
) -> int:
    """Fetch every series and run every log query the dashboards name, and save them; return the series count."""
    # The local Step Functions clock passes Wait states instantly, so an execution closes with a
    # timestamp ahead of the wall clock. CloudWatch accepts datapoints up to two hours ahead.
    end = now + FUTURE_DATAPOINTS
    bodies = dashboard_bodies(deployment)
    series = fetch_dashboard_series(cloudwatch, bodies, deployment.region, end)
    queries = run_dashboard_queries(logs, bodies, deployment.account_id, now - WINDOW, end) if logs else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"saved_at": now.isoformat(), "deployment": DEPLOYMENT_FILE.name, "series": series, "queries": queries}
    path.write_text(json.dumps(document, indent=1))
    return len(series)


def run_dashboard_queries(
    logs: Any, bodies: Mapping[str, Mapping[str, Any]], account: str, start: datetime, end: datetime
) -> dict[str, dict[str, Any]]:
    """Run each log widget's query over its groups' events in [start, end), keyed by the query text."""
    results: dict[str, dict[str, Any]] = {}
    for body in bodies.values():
        for widget in body.get("widgets", []):
            text = str(widget.get("properties", {}).get("query", ""))
            if widget.get("type") != "log" or text in results:
                continue
            try:
                query = parse_query(text)
            except QueryError as exc:
                results[text] = {"error": str(exc)}
                continue
            events = [event for group in query.sources for event in _group_events(logs, group, account, start, end)]
            result = run_query(query, events)
            results[text] = {"columns": result.columns, "rows": result.rows}
    return results


def _group_events(logs: Any, group: str, account: str, start: datetime, end: datetime) -> Iterator[Event]:
    window = {"startTime": int(start.timestamp() * 1000), "endTime": int(end.timestamp() * 1000)}
    try:
        for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group, **window):
            for item in page.get("events", []):
                yield discover_fields(item["timestamp"], item["message"], group, account)
    except logs.exceptions.ResourceNotFoundException:
        return


# --- Rendering ------------------------------------------------------------------------------------

Series = dict[datetime, float]


def widget_series(widget: Mapping[str, Any], snapshot: Mapping[str, Any], region: str) -> list[tuple[str, Series]]:
    """Return (label, series) of each visible entry of a metric widget, expressions evaluated."""
    queries = widget_queries(widget, region)
    by_id: dict[str, Series] = {}
    for query in queries:
        if query.expression is None:
            raw = snapshot["series"].get(query.key, [])
            by_id[query.id] = {datetime.fromisoformat(moment): float(value) for moment, value in raw}
    timestamps = sorted({moment for values in by_id.values() for moment in values})
    for query in queries:
        if query.expression is not None:
            by_id[query.id] = evaluate_expression(query.expression, by_id, timestamps)
    return [(query.label, by_id.get(query.id, {})) for query in queries if query.visible]


def empty_widget_message(widget: Mapping[str, Any], region: str) -> str:
    """Return the text of a metric widget without data: no throttling, when it shows only throttle metrics."""
    metrics = {(query.namespace, query.name) for query in widget_queries(widget, region) if query.expression is None}
    if metrics and metrics <= _THROTTLE_METRICS:
        return "No throttling recorded: DynamoDB publishes throttle metrics only for periods with throttled requests."
    return "No data in the embedded AWS for this widget."


def _svg_chart(
    lines: Sequence[tuple[str, Series]],
    width: int,
    height: int,
    annotations: Sequence[Mapping[str, Any]],
    empty_message: str,
) -> str:
    points = [(moment, value) for _, values in lines for moment, value in values.items()]
    if not points:
        return f'<p class="empty">{html.escape(empty_message)}</p>'
    levels = [float(a["value"]) for a in annotations if isinstance(a.get("value"), (int, float))]
    first = min(moment for moment, _ in points)
    last = max(moment for moment, _ in points)
    span = max((last - first).total_seconds(), 1.0)
    top = max([value for _, value in points] + levels + [0.0]) or 1.0
    bottom = min([value for _, value in points] + [0.0])
    scale = top - bottom or 1.0
    pad = 30

    def x(moment: datetime) -> float:
        return pad + (moment - first).total_seconds() / span * (width - 2 * pad)

    def y(value: float) -> float:
        return height - pad - (value - bottom) / scale * (height - 2 * pad)

    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">']
    parts.append(f'<text x="{pad}" y="14" class="axis">max {top:.4g}</text>')
    parts.append(f'<text x="{pad}" y="{height - 8}" class="axis">{first:%m-%d %H:%M} to {last:%m-%d %H:%M} UTC</text>')
    for annotation in annotations:
        if isinstance(annotation.get("value"), (int, float)):
            level = y(float(annotation["value"]))
            label = html.escape(str(annotation.get("label", "")))
            parts.append(f'<line x1="{pad}" x2="{width - pad}" y1="{level:.1f}" y2="{level:.1f}" class="annotation"/>')
            parts.append(f'<text x="{width - pad}" y="{level - 3:.1f}" class="axis" text-anchor="end">{label}</text>')
    for index, (_, values) in enumerate(lines):
        color = _COLORS[index % len(_COLORS)]
        ordered = sorted(values.items())
        if len(ordered) == 1:
            moment, value = ordered[0]
            parts.append(f'<circle cx="{x(moment):.1f}" cy="{y(value):.1f}" r="3" fill="{color}"/>')
        elif ordered:
            path = " ".join(f"{x(moment):.1f},{y(value):.1f}" for moment, value in ordered)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.5"/>')
    parts.append("</svg>")
    legend = "".join(
        f'<li><span style="background:{_COLORS[i % len(_COLORS)]}"></span>{html.escape(label)}'
        f" ({len(values)} points, last {sorted(values.items())[-1][1]:.4g})</li>"
        if values
        else f'<li><span style="background:{_COLORS[i % len(_COLORS)]}"></span>{html.escape(label)} (no data)</li>'
        for i, (label, values) in enumerate(lines)
    )
    return "".join(parts) + f'<ul class="legend">{legend}</ul>'


def render_widget(widget: Mapping[str, Any], snapshot: Mapping[str, Any], region: str) -> str:
    properties = widget.get("properties", {})
    style = (
        f"grid-column:{widget['x'] + 1} / span {widget['width']};grid-row:{widget['y'] + 1} / span {widget['height']};"
    )
    title = html.escape(str(properties.get("title", "")))
    kind = widget.get("type")
    if kind == "text":
        content = f"<pre class='markdown'>{html.escape(str(properties.get('markdown', '')))}</pre>"
    elif kind == "log":
        content = _log_table(str(properties.get("query", "")), snapshot.get("queries", {}))
    elif kind == "metric" and str(properties.get("region", region)) != region:
        content = (
            f"<p class='empty'>Metrics of {html.escape(str(properties.get('region')))}: not in the local region.</p>"
        )
    elif kind == "metric":
        width = widget["width"] * _GRID_UNIT_PX - 24
        height = widget["height"] * _GRID_UNIT_PX - 90
        annotations = properties.get("annotations", {}).get("horizontal", [])
        series = widget_series(widget, snapshot, region)
        empty = empty_widget_message(widget, region)
        content = _svg_chart(series, width, max(height, 120), annotations, empty)
    else:
        content = f"<p class='empty'>Widget type {html.escape(str(kind))} is not previewed.</p>"
    return f'<section class="widget" style="{style}"><h2>{title}</h2>{content}</section>'


def _log_table(query: str, results: Mapping[str, Mapping[str, Any]]) -> str:
    result = results.get(query)
    if result is None or "error" in result:
        reason = "not in the saved snapshot" if result is None else result["error"]
        return (
            f"<p class='empty'>Logs Insights query not run by the preview ({html.escape(reason)}):</p>"
            f"<pre>{html.escape(query)}</pre>"
        )
    if not result["rows"]:
        return "<p class='empty'>The query matched no log events in the embedded AWS.</p>"
    head = "".join(f"<th>{html.escape(str(column))}</th>" for column in result["columns"])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('' if cell is None else str(cell))}</td>" for cell in row) + "</tr>"
        for row in result["rows"]
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_STYLE = f"""
body{{font-family:system-ui,sans-serif;margin:16px;background:#f4f5f7;color:#16191f}}
.grid{{display:grid;grid-template-columns:repeat(24,{_GRID_UNIT_PX}px);grid-auto-rows:{_GRID_UNIT_PX}px;gap:0}}
.widget{{background:#fff;border:1px solid #d5dbdb;margin:4px;padding:6px 10px;overflow:hidden}}
h2{{font-size:14px;margin:0 0 4px}}
pre{{white-space:pre-wrap;font-size:11px;margin:0}}
.empty{{color:#687078;font-size:12px}}
table{{border-collapse:collapse;font-size:11px;width:100%}}
th,td{{text-align:left;padding:1px 6px;border-bottom:1px solid #eaeded;white-space:nowrap}}
.axis{{font-size:10px;fill:#687078}}
.annotation{{stroke:#d62728;stroke-dasharray:4 3}}
.legend{{list-style:none;padding:0;margin:2px 0;font-size:11px;columns:2}}
.legend span{{display:inline-block;width:10px;height:10px;margin-right:4px}}
"""


def render_dashboard(name: str, body: Mapping[str, Any], snapshot: Mapping[str, Any], region: str) -> str:
    """Return one self-contained HTML page for a dashboard body."""
    widgets = "\n".join(render_widget(widget, snapshot, region) for widget in body.get("widgets", []))
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(name)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(name)}</h1><p class='empty'>Preview from the embedded AWS, metrics saved at "
        f"{html.escape(str(snapshot.get('saved_at')))}; charts span up to {WINDOW.days} days.</p>"
        f'<div class="grid">{widgets}</div></body></html>'
    )


def _screenshot(page: Path, png: Path) -> bool:
    browser = next(
        (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None
    )
    if browser is None:
        return False
    subprocess.run(
        [
            browser,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            f"--screenshot={png}",
            "--window-size=1250,1800",
            page.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return True


def render_all(snapshot_path: Path = METRICS_SNAPSHOT, output: Path = OUTPUT_DIR, png: bool = False) -> list[Path]:
    """Write one HTML preview (and a PNG when asked and Chromium exists) per dashboard; return the pages."""
    if not snapshot_path.exists() or not DEPLOYMENT_FILE.exists():
        raise FileNotFoundError(f"{snapshot_path} or {DEPLOYMENT_FILE} is missing: run `make demo` first")
    snapshot = json.loads(snapshot_path.read_text())
    deployment = Deployment.load()
    output.mkdir(parents=True, exist_ok=True)
    pages = []
    for name, body in dashboard_bodies(deployment).items():
        page = output / f"{name}.html"
        page.write_text(render_dashboard(name, body, snapshot, deployment.region))
        pages.append(page)
        if png and not _screenshot(page, page.with_suffix(".png")):
            print("no chromium on PATH: PNG previews skipped", file=sys.stderr)
            png = False
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render the template's dashboards with the demo's metrics.")
    parser.add_argument("--png", action="store_true", help="also write PNG screenshots with headless Chromium")
    args = parser.parse_args(argv)
    try:
        pages = render_all(png=args.png)
    except FileNotFoundError as missing:
        print(f"error: {missing}", file=sys.stderr)
        return 1
    for page in pages:
        print(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
