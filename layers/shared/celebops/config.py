"""Typed readers for environment variables that name the offending variable on failure."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from celebops.errors import ConfigError

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def env_str(name: str, default: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """Read a required string, or `default` when the variable is unset or blank."""
    source = os.environ if env is None else env
    value = source.get(name, "").strip()
    if value:
        return value
    if default is not None:
        return default
    raise ConfigError(name, "missing; set it in the function's Environment in template.yaml")


def env_optional(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """Read an optional string; unset and blank both mean None."""
    source = os.environ if env is None else env
    value = source.get(name, "").strip()
    return value or None


def env_bool(name: str, default: bool, env: Mapping[str, str] | None = None) -> bool:
    """Read a boolean written as true/false, 1/0, yes/no or on/off."""
    source = os.environ if env is None else env
    raw = source.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(name, f"{raw!r} is not a boolean; use true or false")


def env_int(
    name: str,
    default: int,
    minimum: int | None = None,
    maximum: int | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Read an integer within optional bounds."""
    source = os.environ if env is None else env
    raw = source.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"{raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ConfigError(name, f"{value} is below the minimum {minimum}")
    if maximum is not None and value > maximum:
        raise ConfigError(name, f"{value} is above the maximum {maximum}")
    return value


def env_float(name: str, default: float, minimum: float | None = None, env: Mapping[str, str] | None = None) -> float:
    """Read a float with an optional lower bound."""
    source = os.environ if env is None else env
    raw = source.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(name, f"{raw!r} is not a number") from None
    if minimum is not None and value < minimum:
        raise ConfigError(name, f"{value} is below the minimum {minimum}")
    return value


def env_list(name: str, env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Read a comma-separated list; blanks between commas are dropped."""
    source = os.environ if env is None else env
    raw = source.get(name, "")
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def env_json(name: str, default: Any, env: Mapping[str, str] | None = None) -> Any:
    """Read a JSON document, or `default` when unset."""
    source = os.environ if env is None else env
    raw = source.get(name, "").strip()
    if not raw:
        return default
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(name, f"not valid JSON ({exc.msg} at position {exc.pos})") from None
