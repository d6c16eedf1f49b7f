"""Helpers that read the EMF documents a test wrote to stdout."""

from __future__ import annotations

import json
from typing import Any


def emf_documents(text: str) -> list[dict[str, Any]]:
    documents = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        document = json.loads(line)
        if "_aws" in document:
            documents.append(document)
    return documents


def metric_points(documents: list[dict[str, Any]], name: str) -> list[tuple[dict[str, str], list[float], str]]:
    """Return (dimensions, values, unit) of every directive that defines `name`."""
    points = []
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for definition in directive["Metrics"]:
                if definition["Name"] != name:
                    continue
                keys = [key for dimension_set in directive["Dimensions"] for key in dimension_set]
                dimensions = {key: document[key] for key in keys}
                raw = document[name]
                values = raw if isinstance(raw, list) else [raw]
                points.append((dimensions, values, definition["Unit"]))
    return points
