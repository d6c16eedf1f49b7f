"""Configuration of FreshnessMonitorFunction and ScraperMonitorFunction, read once at cold start."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time

from celebops.config import env_int, env_json, env_list, env_optional, env_str
from celebops.constants import SOURCES
from celebops.errors import ConfigError
from celebops.freshness.timestamps import TimestampFormat

ENV_TABLE_NAME = "TABLE_NAME"
ENV_SOURCES = "SOURCES"
ENV_SOURCE_ATTRIBUTE = "SOURCE_ATTRIBUTE"
ENV_UPDATED_AT_ATTRIBUTE = "UPDATED_AT_ATTRIBUTE"
ENV_TIMESTAMP_FORMAT = "TIMESTAMP_FORMAT"
ENV_INDEX_NAME = "FRESHNESS_INDEX_NAME"
ENV_WARN_AFTER_HOURS = "WARN_AFTER_HOURS"
ENV_ERROR_AFTER_HOURS = "ERROR_AFTER_HOURS"
ENV_SOURCE_THRESHOLDS = "SOURCE_THRESHOLDS"
ENV_SCAN_SEGMENTS = "SCAN_SEGMENTS"
ENV_SCRAPER_FUNCTIONS = "SCRAPER_FUNCTION_NAMES"
ENV_SCRAPE_DAY = "SCRAPE_DAY"
ENV_SCRAPE_TIME = "SCRAPE_TIME_UTC"
ENV_RUN_WINDOW_MINUTES = "RUN_WINDOW_MINUTES"
ENV_SUCCESS_RATE_RUNS = "SUCCESS_RATE_RUNS"
ENV_STATUS_MESSAGE = "SCRAPER_STATUS_MESSAGE"

#: A weekly scrape writes within minutes of its run, so data up to a week plus two hours old is
#: normal; a whole missed run makes it older than eight days.
DEFAULT_WARN_AFTER_HOURS = 170
DEFAULT_ERROR_AFTER_HOURS = 192
DEFAULT_SCAN_SEGMENTS = 4
#: Scan segments a Lambda function can usefully run in threads; DynamoDB allows up to 1,000,000.
MAX_SCAN_SEGMENTS = 64

DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_ATTRIBUTE = re.compile(r"^[^\s]{1,255}$")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class AgeThresholds:
    """Ages in hours from which a source's newest data is reported as warn or error (dbt's warn_after, error_after)."""

    warn_after_hours: float
    error_after_hours: float


def _read_thresholds(
    sources: tuple[str, ...], default: AgeThresholds, env: Mapping[str, str] | None
) -> dict[str, AgeThresholds]:
    raw = env_json(ENV_SOURCE_THRESHOLDS, {}, env=env)
    if not isinstance(raw, dict):
        raise ConfigError(ENV_SOURCE_THRESHOLDS, f"must be a JSON object of source to thresholds, got {raw!r}")
    unknown = sorted(set(raw) - set(sources))
    if unknown:
        raise ConfigError(ENV_SOURCE_THRESHOLDS, f"unknown sources {unknown}; configured sources are {list(sources)}")
    thresholds = {}
    for source in sources:
        override = raw.get(source, {})
        if not isinstance(override, dict) or set(override) - {"warn_after_hours", "error_after_hours"}:
            raise ConfigError(
                ENV_SOURCE_THRESHOLDS,
                f"{source}: expected an object with warn_after_hours and/or error_after_hours, got {override!r}",
            )
        warn = override.get("warn_after_hours", default.warn_after_hours)
        error = override.get("error_after_hours", default.error_after_hours)
        for name, value in (("warn_after_hours", warn), ("error_after_hours", error)):
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ConfigError(ENV_SOURCE_THRESHOLDS, f"{source}.{name} must be a positive number, got {value!r}")
        if warn > error:
            raise ConfigError(
                ENV_SOURCE_THRESHOLDS, f"{source}: warn_after_hours {warn} is above error_after_hours {error}"
            )
        thresholds[source] = AgeThresholds(float(warn), float(error))
    return thresholds


def _read_sources(env: Mapping[str, str] | None) -> tuple[str, ...]:
    sources = env_list(ENV_SOURCES, env=env) or SOURCES
    if len(set(sources)) != len(sources):
        raise ConfigError(ENV_SOURCES, f"lists a source twice: {list(sources)}")
    return sources


@dataclass(frozen=True)
class FreshnessConfig:
    table_name: str
    sources: tuple[str, ...]
    source_attribute: str
    updated_at_attribute: str
    timestamp_format: TimestampFormat
    #: Global secondary index keyed by source (hash) and update time (range); None scans the table.
    index_name: str | None
    thresholds: Mapping[str, AgeThresholds] = field(default_factory=dict)
    scan_segments: int = DEFAULT_SCAN_SEGMENTS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> FreshnessConfig:
        """Read and validate the configuration; raise ConfigError naming the variable."""
        table_name = env_str(ENV_TABLE_NAME, env=env)
        if not _NAME.match(table_name):
            raise ConfigError(ENV_TABLE_NAME, f"{table_name!r} is not a DynamoDB table name")
        index_name = env_optional(ENV_INDEX_NAME, env=env)
        if index_name is not None and not _NAME.match(index_name):
            raise ConfigError(ENV_INDEX_NAME, f"{index_name!r} is not a DynamoDB index name; leave it empty to scan")

        attributes = {}
        for variable, default in ((ENV_SOURCE_ATTRIBUTE, "source"), (ENV_UPDATED_AT_ATTRIBUTE, "updated_at")):
            value = env_str(variable, default, env=env)
            if not _ATTRIBUTE.match(value):
                raise ConfigError(variable, f"{value!r} is not an attribute name")
            attributes[variable] = value
        if attributes[ENV_SOURCE_ATTRIBUTE] == attributes[ENV_UPDATED_AT_ATTRIBUTE]:
            raise ConfigError(ENV_UPDATED_AT_ATTRIBUTE, "must differ from SOURCE_ATTRIBUTE")

        raw_format = env_str(ENV_TIMESTAMP_FORMAT, TimestampFormat.ISO8601.value, env=env)
        try:
            timestamp_format = TimestampFormat(raw_format)
        except ValueError:
            allowed = ", ".join(item.value for item in TimestampFormat)
            raise ConfigError(ENV_TIMESTAMP_FORMAT, f"{raw_format!r} is not one of {allowed}") from None

        sources = _read_sources(env)
        default_thresholds = AgeThresholds(
            float(env_int(ENV_WARN_AFTER_HOURS, DEFAULT_WARN_AFTER_HOURS, minimum=1, env=env)),
            float(env_int(ENV_ERROR_AFTER_HOURS, DEFAULT_ERROR_AFTER_HOURS, minimum=1, env=env)),
        )
        if default_thresholds.warn_after_hours > default_thresholds.error_after_hours:
            raise ConfigError(
                ENV_WARN_AFTER_HOURS,
                f"{default_thresholds.warn_after_hours:g} is above ERROR_AFTER_HOURS "
                f"{default_thresholds.error_after_hours:g}",
            )
        return cls(
            table_name=table_name,
            sources=sources,
            source_attribute=attributes[ENV_SOURCE_ATTRIBUTE],
            updated_at_attribute=attributes[ENV_UPDATED_AT_ATTRIBUTE],
            timestamp_format=timestamp_format,
            index_name=index_name,
            thresholds=_read_thresholds(sources, default_thresholds, env),
            scan_segments=env_int(
                ENV_SCAN_SEGMENTS, DEFAULT_SCAN_SEGMENTS, minimum=1, maximum=MAX_SCAN_SEGMENTS, env=env
            ),
        )


@dataclass(frozen=True)
class ScraperMonitorConfig:
    #: Scraper Lambda function name per source, in source order.
    functions: Mapping[str, str]
    scrape_weekday: int
    scrape_time: time
    #: Minutes after the scheduled time within which a run starts and finishes; Lambda stops an
    #: invocation after 15 minutes, and EventBridge invokes within about a minute.
    run_window_minutes: int
    #: Scheduled runs, this one included, that ScraperSuccessRate covers.
    success_rate_runs: int
    #: `message` of the scrapers' JSON status line, which carries `status` and, on failure, `error`.
    status_message: str

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(self.functions)

    def source_of_function(self, function_name: str) -> str | None:
        return next((source for source, name in self.functions.items() if name == function_name), None)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ScraperMonitorConfig:
        """Read and validate the configuration; raise ConfigError naming the variable."""
        sources = _read_sources(env)
        names = env_list(ENV_SCRAPER_FUNCTIONS, env=env)
        if len(names) != len(sources):
            raise ConfigError(
                ENV_SCRAPER_FUNCTIONS,
                f"lists {len(names)} functions for {len(sources)} sources ({', '.join(sources)}); "
                "give one per source in order",
            )
        for name in names:
            if not re.match(r"^[A-Za-z0-9_-]{1,64}$", name):
                raise ConfigError(ENV_SCRAPER_FUNCTIONS, f"{name!r} is not a Lambda function name")

        day = env_str(ENV_SCRAPE_DAY, "SUN", env=env).upper()
        if day not in DAYS:
            raise ConfigError(ENV_SCRAPE_DAY, f"{day!r} is not one of {', '.join(DAYS)}")
        clock = env_str(ENV_SCRAPE_TIME, "02:00", env=env)
        match = _TIME.match(clock)
        if not match:
            raise ConfigError(ENV_SCRAPE_TIME, f"{clock!r} is not HH:MM in UTC")
        return cls(
            functions=dict(zip(sources, names, strict=True)),
            scrape_weekday=DAYS.index(day),
            scrape_time=time(int(match.group(1)), int(match.group(2))),
            run_window_minutes=env_int(ENV_RUN_WINDOW_MINUTES, 30, minimum=16, maximum=24 * 60, env=env),
            success_rate_runs=env_int(ENV_SUCCESS_RATE_RUNS, 4, minimum=1, maximum=52, env=env),
            status_message=env_str(ENV_STATUS_MESSAGE, "scrape finished", env=env),
        )
