"""Read AWS Budgets notifications, which SNS delivers as plain text, not JSON.

NOTE: the layout below is a best effort from public examples (a first line starting with
"AWS Budget Notification", then "Key: value" lines such as "Budget Name:", "Budgeted Amount:",
"Alert Type:", "Alert Threshold:", "ACTUAL Amount:"); it was not checked against a real delivery.
Unknown lines are kept in the alert text, so a layout change loses fields, never the message.
"""

from __future__ import annotations

import re

from celebops.alerts.model import BudgetDetails

_ANCHOR = re.compile(r"^\s*AWS Budget Notification", re.IGNORECASE)
_LINE = re.compile(r"^\s*([A-Za-z][A-Za-z ]{2,40}?)\s*:\s*(.+?)\s*$", re.MULTILINE)

_FIELDS = {
    "budget name": "budget_name",
    "budget type": "budget_type",
    "budgeted amount": "budgeted_amount",
    "alert type": "alert_type",
    "alert threshold": "alert_threshold",
    "actual amount": "actual_amount",
    "forecasted amount": "forecasted_amount",
}


def looks_like_budget(text: str) -> bool:
    return _ANCHOR.match(text) is not None


def parse_budget(text: str) -> BudgetDetails:
    """Read the known "Key: value" lines; the first occurrence of a key wins."""
    values: dict[str, str] = {}
    for match in _LINE.finditer(text):
        field = _FIELDS.get(" ".join(match.group(1).lower().split()))
        if field and field not in values:
            values[field] = match.group(2)
    return BudgetDetails(**values)
