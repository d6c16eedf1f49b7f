"""Errors shared by every feature of the suite."""

from __future__ import annotations


class ConfigError(ValueError):
    """A function's configuration is missing or invalid; raised at cold start, before any AWS call."""

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        self.problem = problem
        super().__init__(f"invalid configuration {variable}: {problem}")
