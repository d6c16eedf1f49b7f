"""Slack incoming-webhook payloads (Block Kit with a plain-text fallback) for alerts.

Colour: the state is shown by an emoji in the header, not by an attachment colour bar. With
blocks inside a legacy attachment, Slack renders the top-level `text` as a second copy above them
and may fold long content behind "Show more". With top-level blocks, `text` is used only for
notifications.

Slack limits honoured here [Slack Block Kit reference]: header 150 characters, section text
3,000, section fields 10 of 2,000 each, 50 blocks. Slack has also rejected messages near 13,000
characters in total below those sums (`msg_blocks_too_long`), so the per-block budgets below keep
one message under about 9,000 characters. The fallback `text` is capped at 4,000 (our own cap).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from celebops.alerts.describe import measured_lines
from celebops.alerts.links import alarm_console_url, runbook_url
from celebops.alerts.model import AlarmState, Alert, AlertKind
from celebops.alerts.routing import Route, Topic
from celebops.alerts.text import TRUNCATED, display_time, escape_mrkdwn, escaped, truncate
from celebops.findings import Severity

MAX_HEADER = 150
MAX_SECTION_TEXT = 3000
MAX_FIELD = 2000
MAX_FIELDS = 10
MAX_BLOCKS = 50
MAX_FALLBACK_TEXT = 4000

# Budgets inside the limits, so a message with every part at its maximum stays well below the
# total size at which Slack has been seen to reject messages.
_REASON_BUDGET = 2500
_DESCRIPTION_BUDGET = 1000
_DETAILS_BUDGET = 1500
_FIELD_BUDGET = 500
# Five log lines of 300 characters plus the fences fit; the whole message stays under the
# total size noted above.
_LOG_LINES_BUDGET = 1600
MAX_LOG_LINE = 300

_STATE_EMOJI = {
    AlarmState.ALARM: ":red_circle:",
    AlarmState.OK: ":large_green_circle:",
    AlarmState.INSUFFICIENT_DATA: ":warning:",
}
_SEVERITY_EMOJI = {
    Severity.CRITICAL: ":rotating_light:",
    Severity.WARNING: ":warning:",
    Severity.INFO: ":information_source:",
}
_KIND_EMOJI = {
    AlertKind.BUDGET: ":moneybag:",
    AlertKind.TEXT: ":speech_balloon:",
    AlertKind.UNRECOGNISED: ":grey_question:",
}


@dataclass(frozen=True)
class SlackOptions:
    dashboard_url: str | None = None
    runbook_base_url: str | None = None
    mention_critical: bool = False


def state_emoji(alert: Alert) -> str:
    if alert.state is not None:
        return _STATE_EMOJI[alert.state]
    if alert.finding is not None:
        return ":white_check_mark:" if alert.resolved else _SEVERITY_EMOJI[alert.finding.severity]
    return _KIND_EMOJI.get(alert.kind, ":bell:")


def headline(alert: Alert) -> str:
    """ "ALARM: name" for alarms, "CRITICAL finding: title" for findings, else the title."""
    if alert.state is not None:
        return f"{alert.state.value}: {alert.title}"
    if alert.finding is not None:
        status = "RESOLVED" if alert.resolved else alert.finding.severity.value.upper()
        return f"{status}: {alert.title}"
    return alert.title


def wants_mention(alert: Alert, route: Route, options: SlackOptions) -> bool:
    """`<!here>` only for a critical problem that starts now, never for OK or INSUFFICIENT_DATA."""
    if not options.mention_critical:
        return False
    if alert.finding is not None:
        return alert.finding.severity is Severity.CRITICAL and not alert.resolved
    return route.topic is Topic.CRITICAL and alert.state is AlarmState.ALARM


# -- blocks ---------------------------------------------------------------------------------------


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": truncate(text, MAX_HEADER), "emoji": True}}


def _section(mrkdwn: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(mrkdwn, MAX_SECTION_TEXT)}}


def _fields(pairs: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """Sections of at most 10 fields; labels are ours, values are escaped and cut to a budget."""
    items = [
        {"type": "mrkdwn", "text": truncate(f"*{label}*\n{escaped(value, _FIELD_BUDGET)}", MAX_FIELD)}
        for label, value in pairs
    ]
    return [{"type": "section", "fields": items[i : i + MAX_FIELDS]} for i in range(0, len(items), MAX_FIELDS)]


def _context(parts: Sequence[str]) -> dict[str, Any]:
    text = " · ".join(p for p in parts if p)
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(text, MAX_FIELD)}]}


def _link(url: str, label: str) -> str:
    # `|` and `>` would end the link early; the console URL is percent-encoded already.
    safe = url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
    return f"<{safe}|{label}>"


def links(alert: Alert, options: SlackOptions) -> list[tuple[str, str]]:
    """(label, url) pairs: the alarm in the console, the dashboard and the runbook, where known."""
    found: list[tuple[str, str]] = []
    console = alarm_console_url(alert)
    if console:
        found.append(("CloudWatch alarm", console))
    if options.dashboard_url:
        found.append(("Dashboard", options.dashboard_url))
    runbook = runbook_url(alert, options.runbook_base_url)
    if runbook:
        found.append(("Runbook", runbook))
    return found


def _status_line(alert: Alert, route: Route, options: SlackOptions) -> str:
    parts = []
    if wants_mention(alert, route, options):
        parts.append("<!here>")
    if alert.state is not None:
        old = alert.old_state.value if alert.old_state else "?"
        parts.append(f"*{old} → {alert.state.value}*")
    parts.append(f"topic *{route.topic.value}*")
    if route.team:
        parts.append(f"team *{escape_mrkdwn(route.team)}*")
    if route.channel:
        parts.append(f"channel {escape_mrkdwn(route.channel)}")
    return " · ".join(parts)


def _body_blocks(alert: Alert) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if alert.reason:
        label = {AlertKind.TEXT: "Message", AlertKind.BUDGET: "Notification", AlertKind.UNRECOGNISED: "Raw message"}
        title = label.get(alert.kind, "Summary" if alert.finding else "Reason")
        blocks.append(_section(f"*{title}*\n{escaped(alert.reason, _REASON_BUDGET)}"))
    if alert.description:
        title = "Problem" if alert.kind is AlertKind.UNRECOGNISED else "Description"
        blocks.append(_section(f"*{title}*\n{escaped(alert.description, _DESCRIPTION_BUDGET)}"))
    if alert.condition is not None:
        blocks.extend(_fields(measured_lines(alert.condition)))
    if alert.kind is AlertKind.COMPOSITE_ALARM:
        pairs = [("Rule", alert.alarm_rule or "not given")]
        children = ", ".join(c.name + (f" ({c.state})" if c.state else "") for c in alert.children)
        pairs.append(("Triggered by", children or "no child listed"))
        blocks.extend(_fields(pairs))
    if alert.finding is not None:
        finding = alert.finding
        pairs = [("Source", finding.source), ("Kind", finding.kind), ("Severity", finding.severity.value)]
        if finding.resource:
            pairs.append(("Resource", finding.resource))
        blocks.extend(_fields(pairs))
        if finding.details:
            details = json.dumps(finding.details, indent=1, ensure_ascii=False, sort_keys=True, default=str)
            blocks.append(_section(f"*Details*\n{escaped(details, _DETAILS_BUDGET)}"))
    if alert.budget is not None:
        budget = alert.budget
        pairs = [
            (label, value)
            for label, value in (
                ("Budget", budget.budget_name),
                ("Type", budget.budget_type),
                ("Budgeted", budget.budgeted_amount),
                ("Alert type", budget.alert_type),
                ("Threshold", budget.alert_threshold),
                ("Actual", budget.actual_amount),
                ("Forecasted", budget.forecasted_amount),
            )
            if value
        ]
        blocks.extend(_fields(pairs))
    log_block = log_lines_block(alert.log_lines)
    if log_block is not None:
        blocks.append(log_block)
    return blocks


def log_lines_block(lines: Sequence[str]) -> dict[str, Any] | None:
    """Render log lines as one Slack code block, or None when there are none.

    Each line is escaped, so no backtick can close the fence early, and cut to MAX_LOG_LINE
    characters. Newlines inside one log event become spaces so each event stays one line. Lines
    that would push the block past its budget are left out and counted.
    """
    if not lines:
        return None
    rendered: list[str] = []
    used = 0
    for line in lines:
        flat = " ".join(line.splitlines()).strip()
        text = escaped(flat, MAX_LOG_LINE)
        if used + len(text) + 1 > _LOG_LINES_BUDGET:
            break
        rendered.append(text)
        used += len(text) + 1
    omitted = len(lines) - len(rendered)
    body = "\n".join(rendered) if rendered else TRUNCATED
    footer = f"\n_{omitted} more not shown_" if omitted else ""
    return _section(f"*Matching log lines*\n```\n{body}\n```{footer}")


def _where_and_when(alert: Alert) -> list[str]:
    return [
        f"region {alert.region}" if alert.region else "",
        f"account {alert.account_id}" if alert.account_id else "",
        display_time(alert.time) or "",
    ]


def fallback_text(alert: Alert) -> str:
    """Build the notification text: headline and reason on one line, escaped, at most 4,000 characters."""
    reason = " ".join(alert.reason.split())
    line = f"{headline(alert)} — {reason}" if reason else headline(alert)
    return escaped(line, MAX_FALLBACK_TEXT) or "alert"


def format_slack(alert: Alert, route: Route, options: SlackOptions) -> dict[str, Any]:
    """Build the webhook body for one alert."""
    blocks = [_header(f"{state_emoji(alert)} {headline(alert)}"), _section(_status_line(alert, route, options))]
    blocks.extend(_body_blocks(alert))
    where = [part for part in _where_and_when(alert) if part]
    if where:
        # Slack rejects a context element with empty text (invalid_blocks).
        blocks.append(_context(where))
    found = links(alert, options)
    if found:
        blocks.append(_section(" · ".join(_link(url, label) for label, url in found)))
    if len(blocks) > MAX_BLOCKS:
        # Keep the header and the last two blocks (context and links) so the alarm stays reachable.
        blocks = [*blocks[: MAX_BLOCKS - 3], _section(TRUNCATED), *blocks[-2:]]
    return {"text": fallback_text(alert), "blocks": blocks}


# -- storm grouping ---------------------------------------------------------------------------------

_GROUP_LINE_BUDGET = 300
_GROUP_TEXT_BUDGET = 6000
_GROUP_NAMES_BUDGET = 1500


def _group_line(alert: Alert) -> str:
    name = escaped(alert.title, 150)
    console = alarm_console_url(alert)
    label = _link(console, name) if console else f"*{name}*"
    change = ""
    if alert.state is not None:
        old = alert.old_state.value if alert.old_state else "?"
        change = f" {old} → {alert.state.value}"
    reason = escaped(" ".join(alert.reason.split()), 120) if alert.reason else ""
    line = f"{state_emoji(alert)} {label}{change}" + (f" — {reason}" if reason else "")
    return truncate(line, _GROUP_LINE_BUDGET)


def _state_key(alert: Alert) -> str:
    if alert.state is not None:
        return alert.state.value
    if alert.finding is not None:
        return "RESOLVED" if alert.resolved else alert.finding.severity.value.upper()
    return alert.kind.value.upper()


_URGENCY_EMOJI = (":large_green_circle:", ":information_source:", ":warning:", ":rotating_light:")


def _urgency(alert: Alert) -> int:
    """Rank an alert for the group header: 3 firing or critical, 2 warning, 1 informational, 0 resolved."""
    if alert.state is not None:
        return {AlarmState.ALARM: 3, AlarmState.INSUFFICIENT_DATA: 2, AlarmState.OK: 0}[alert.state]
    if alert.finding is not None:
        if alert.resolved:
            return 0
        return {Severity.CRITICAL: 3, Severity.WARNING: 2, Severity.INFO: 1}[alert.finding.severity]
    return 1


def format_slack_group(alerts: Sequence[Alert], topic: Topic, options: SlackOptions) -> dict[str, Any]:
    """Build ONE webhook body for many alerts of one topic: counts by state, then a line per alert."""
    counts = Counter(_state_key(a) for a in alerts)
    summary = ", ".join(f"{state} {count}" for state, count in sorted(counts.items()))
    # The header shows the most urgent alert of the batch, so a storm of recoveries reads as good news.
    emoji = _URGENCY_EMOJI[max((_urgency(a) for a in alerts), default=0)]
    title = f"{emoji} {len(alerts)} alerts on {topic.value}"
    mention = (
        "<!here> "
        if options.mention_critical and topic is Topic.CRITICAL and counts.get(AlarmState.ALARM.value)
        else ""
    )
    blocks: list[dict[str, Any]] = [_header(title), _section(f"{mention}*{summary}*")]

    # Lines stop at a total budget, far below the 50-block limit, because Slack rejects messages
    # near 13,000 characters in total whatever the per-block sizes.
    shown: list[str] = []
    total = 0
    for alert in alerts:
        line = _group_line(alert)
        if total + len(line) + 1 > _GROUP_TEXT_BUDGET:
            break
        shown.append(line)
        total += len(line) + 1
    chunk = ""
    for line in shown:
        if chunk and len(chunk) + 1 + len(line) > MAX_SECTION_TEXT:
            blocks.append(_section(chunk))
            chunk = line
        else:
            chunk = f"{chunk}\n{line}" if chunk else line
    if chunk:
        blocks.append(_section(chunk))
    if len(shown) < len(alerts):
        blocks.append(_section(f"…and {len(alerts) - len(shown)} more {TRUNCATED}"))
    if options.dashboard_url:
        blocks.append(_section(_link(options.dashboard_url, "Dashboard")))
    blocks.append(_context([f"{len(alerts)} alerts in one batch, grouped to stay under Slack's rate limit"]))

    names = truncate(", ".join(a.title for a in alerts), _GROUP_NAMES_BUDGET)
    text = escaped(f"{len(alerts)} alerts on {topic.value} ({summary}): {names}", MAX_FALLBACK_TEXT)
    return {"text": text, "blocks": blocks}
