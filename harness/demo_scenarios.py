"""Scenarios the demo runs after the scheduled jobs, each returning a summary entry.

Each scenario takes the running `Demo` and returns {"name", "passed", "detail"}; a scenario that
does not pass makes `make demo` exit non-zero.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SCENARIOS: list[Callable[[Any], dict[str, Any]]] = []
