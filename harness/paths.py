"""Well-known paths of the project, resolved from this file so any working directory works."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
SAMCONFIG = ROOT / "samconfig.toml"
EVENTS = ROOT / "events"
LAYER = ROOT / "layers" / "shared"
LOCAL = ROOT / ".local"
BUILD = ROOT / ".aws-sam" / "build"
DELIVERIES = LOCAL / "deliveries.jsonl"
