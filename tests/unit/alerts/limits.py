"""Independent checks of Slack Block Kit and PagerDuty limits, used by the format tests."""

from __future__ import annotations

import json
from typing import Any


def slack_limit_problems(body: dict[str, Any]) -> list[str]:
    problems = []
    blocks = body.get("blocks", [])
    if len(blocks) > 50:
        problems.append(f"{len(blocks)} blocks")
    text = body.get("text")
    if not isinstance(text, str) or not text or len(text) > 4000:
        problems.append("fallback text empty or over 4000")
    for index, block in enumerate(blocks):
        texts = [block["text"]["text"]] if "text" in block else []
        texts += [item["text"] for item in block.get("fields", []) + block.get("elements", [])]
        if not texts or any(not text.strip() for text in texts):
            problems.append(f"block {index}: empty text (Slack answers invalid_blocks)")
        if block["type"] == "header" and len(block["text"]["text"]) > 150:
            problems.append(f"block {index}: header over 150")
        if block["type"] == "section":
            if "text" in block and len(block["text"]["text"]) > 3000:
                problems.append(f"block {index}: section text over 3000")
            fields = block.get("fields", [])
            if len(fields) > 10:
                problems.append(f"block {index}: {len(fields)} fields")
            problems.extend(f"block {index}: field over 2000" for f in fields if len(f["text"]) > 2000)
    if len(json.dumps(body, ensure_ascii=False)) > 12_000:
        problems.append("message over 12000 characters in total")
    return problems


def pagerduty_limit_problems(event: dict[str, Any]) -> list[str]:
    problems = []
    if len(event.get("dedup_key", "")) > 255:
        problems.append("dedup_key over 255")
    payload = event.get("payload")
    if payload is not None and len(payload["summary"]) > 1024:
        problems.append("summary over 1024")
    body = {**event, "routing_key": "R" * 32}
    if len(json.dumps(body, ensure_ascii=False).encode()) >= 512 * 1024:
        problems.append("body of 512 KB or more")
    return problems
