"""Links attached to alerts: the CloudWatch console page of the alarm and its runbook."""

from __future__ import annotations

import re
from urllib.parse import quote

from celebops.alerts.model import Alert

_URL = re.compile(r"https?://[^\s<>`\"')\]]+")
_RUNBOOK_TOKEN = re.compile(r"runbook\s*:\s*([^\s`<>\"']+)", re.IGNORECASE)
_FAMILY = re.compile(r"^[a-z0-9]+", re.IGNORECASE)


def console_alarm_url(alarm_name: str, region: str) -> str:
    """Return the CloudWatch console URL of an alarm in `region` (the name fully URL-encoded)."""
    encoded = quote(alarm_name, safe="")
    return f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#alarmsV2:alarm/{encoded}"


def alarm_console_url(alert: Alert) -> str | None:
    if not alert.alarm_name or not alert.region:
        return None
    return console_alarm_url(alert.alarm_name, alert.region)


def runbook_family(alert: Alert) -> str | None:
    """Return the runbook family: a `runbook:` token in the description, else the alarm name's first word.

    "Runbook: docs/runbooks/lambda-errors.md" gives "lambda-errors"; an alarm named
    "scraper-tmdb-error-rate" without a token gives "scraper".
    """
    if alert.description:
        token = _RUNBOOK_TOKEN.search(alert.description)
        if token and not token.group(1).lower().startswith(("http://", "https://")):
            name = token.group(1).rstrip(".,;").rsplit("/", 1)[-1]
            name = name.removesuffix(".md")
            if name:
                return name
    source = alert.alarm_name or (alert.finding.kind if alert.finding else None)
    if not source:
        return None
    match = _FAMILY.match(source)
    return match.group(0).lower() if match else None


def runbook_url(alert: Alert, base_url: str | None) -> str | None:
    """Return a URL found in the description or finding, else `<base_url>/<family>.md`, else None."""
    if alert.finding and alert.finding.runbook and alert.finding.runbook.startswith(("https://", "http://")):
        return alert.finding.runbook
    if alert.description:
        found = _URL.search(alert.description)
        if found:
            return found.group(0).rstrip(".,;")
    if not base_url:
        return None
    family: str | None
    if alert.finding and alert.finding.runbook:
        family = alert.finding.runbook.rsplit("/", 1)[-1].removesuffix(".md")
    else:
        family = runbook_family(alert)
    if not family:
        return None
    return f"{base_url.rstrip('/')}/{quote(family)}.md"
