"""Configuration of the unauthorized-access scan, validated at cold start before any AWS call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from celebops.access_scan.addresses import Allowlist
from celebops.access_scan.blocking import IpSetRef
from celebops.access_scan.detector import DetectionRules
from celebops.access_scan.parse import FormatSetting
from celebops.config import env_bool, env_int, env_list, env_optional, env_str
from celebops.errors import ConfigError

ENV_LOG_GROUP = "ACCESS_LOG_GROUP_NAME"
ENV_LOG_FORMAT = "ACCESS_LOG_FORMAT"
ENV_WINDOW_HOURS = "SCAN_WINDOW_HOURS"
ENV_INCLUDE_403 = "INCLUDE_403"
ENV_MAX_RETRY = "MAX_RETRY"
ENV_FIND_TIME = "FIND_TIME_SECONDS"
ENV_DAILY_CEILING = "DAILY_CEILING"
ENV_PATH_SPREAD = "PATH_SPREAD_THRESHOLD"
ENV_ALLOWLIST = "ALLOWLIST"
ENV_HISTORY_TABLE = "HISTORY_TABLE"
ENV_HISTORY_DAYS = "HISTORY_DAYS"
ENV_REPORT_BUCKET = "REPORT_BUCKET"
ENV_BLOCK_MODE = "BLOCK_MODE"
ENV_WAF_IPV4 = "WAF_IPV4_SET_ARN"
ENV_WAF_IPV6 = "WAF_IPV6_SET_ARN"
ENV_BAN_HOURS = "BAN_HOURS"
ENV_RECIDIVE_BAN_HOURS = "RECIDIVE_BAN_HOURS"
ENV_MAX_PAGES = "MAX_PAGES"


class BlockMode(StrEnum):
    REPORT_ONLY = "report-only"
    BLOCK = "block"


@dataclass(frozen=True)
class ScanConfig:
    log_group: str
    log_format: FormatSetting
    window_hours: int
    failure_statuses: frozenset[int]
    rules: DetectionRules
    history_table: str
    history_days: int
    report_bucket: str | None
    block_mode: BlockMode
    ip_sets: Mapping[int, IpSetRef]
    ban_hours: int
    recidive_ban_hours: int
    max_pages: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ScanConfig:
        """Read the configuration; raise ConfigError naming the variable and the bad value."""
        raw_format = env_str(ENV_LOG_FORMAT, FormatSetting.PRODUCTION.value, env=env).lower()
        try:
            log_format = FormatSetting(raw_format)
        except ValueError:
            allowed = ", ".join(setting.value for setting in FormatSetting)
            raise ConfigError(ENV_LOG_FORMAT, f"{raw_format!r} is not a format; use one of {allowed}") from None

        try:
            allowlist = Allowlist.from_entries(env_list(ENV_ALLOWLIST, env=env))
        except ValueError as exc:
            raise ConfigError(ENV_ALLOWLIST, str(exc)) from None

        raw_mode = env_str(ENV_BLOCK_MODE, BlockMode.REPORT_ONLY.value, env=env).lower()
        try:
            block_mode = BlockMode(raw_mode)
        except ValueError:
            raise ConfigError(ENV_BLOCK_MODE, f"{raw_mode!r} is not a mode; use report-only or block") from None

        ip_sets: dict[int, IpSetRef] = {}
        for version, variable in ((4, ENV_WAF_IPV4), (6, ENV_WAF_IPV6)):
            arn = env_optional(variable, env=env)
            if arn is None:
                continue
            try:
                ip_sets[version] = IpSetRef.from_arn(arn)
            except ValueError as exc:
                raise ConfigError(variable, str(exc)) from None
        if block_mode is BlockMode.BLOCK and not ip_sets:
            raise ConfigError(ENV_BLOCK_MODE, f"block needs {ENV_WAF_IPV4} or {ENV_WAF_IPV6}; set an IP set ARN")

        rules = DetectionRules(
            max_retry=env_int(ENV_MAX_RETRY, 20, minimum=1, env=env),
            find_time_seconds=env_int(ENV_FIND_TIME, 600, minimum=1, maximum=86_400, env=env),
            daily_ceiling=env_int(ENV_DAILY_CEILING, 30, minimum=1, env=env),
            path_spread_threshold=env_int(ENV_PATH_SPREAD, 5, minimum=2, env=env),
            allowlist=allowlist,
        )
        statuses = frozenset({401, 403}) if env_bool(ENV_INCLUDE_403, default=False, env=env) else frozenset({401})
        return cls(
            log_group=env_str(ENV_LOG_GROUP, env=env),
            log_format=log_format,
            window_hours=env_int(ENV_WINDOW_HOURS, 24, minimum=1, maximum=336, env=env),
            failure_statuses=statuses,
            rules=rules,
            history_table=env_str(ENV_HISTORY_TABLE, env=env),
            history_days=env_int(ENV_HISTORY_DAYS, 30, minimum=1, maximum=365, env=env),
            report_bucket=env_optional(ENV_REPORT_BUCKET, env=env),
            block_mode=block_mode,
            ip_sets=ip_sets,
            ban_hours=env_int(ENV_BAN_HOURS, 24, minimum=1, env=env),
            recidive_ban_hours=env_int(ENV_RECIDIVE_BAN_HOURS, 168, minimum=1, env=env),
            max_pages=env_int(ENV_MAX_PAGES, 5_000, minimum=1, env=env),
        )


def filter_pattern(log_format: FormatSetting, statuses: frozenset[int]) -> str:
    """Return the FilterLogEvents pattern that narrows the events to the failure statuses server-side.

    The patterns may let through more than the statuses (`40*` for 401 and 403); the parser keeps
    only the configured statuses, so the server-side filter only has to be a superset.
    """
    # NOTE: moto ignores bracketed and JSON patterns, so these were never run against CloudWatch Logs.
    only_401 = statuses == frozenset({401})
    if log_format is FormatSetting.PRODUCTION:
        # `$context.requestTime` is two space-separated fields; the quoted request is one.
        status = "status=401" if only_401 else "status=40*"
        return f"[request_id, ip, date, zone, request, {status}]"
    if log_format is FormatSetting.CLF:
        # The bracketed request time and the quoted request are one field each.
        status = "status=401" if only_401 else "status=40*"
        return f"[ip, caller, user, request_time, request, {status}, size, request_id]"
    if log_format is FormatSetting.JSON:
        if only_401:
            return '{ $.status = "401" }'
        return '{ ($.status = "401") || ($.status = "403") }'
    # Detected line by line: a term pattern matches the status token in every format.
    return "401" if only_401 else "?401 ?403"
