"""Configuration of the restore test and the backup guard, read once at cold start."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from celebops.config import env_float, env_int, env_list, env_str
from celebops.constants import ENV_ALERT_TOPIC_CRITICAL, ENV_ALERT_TOPIC_INFO, ENV_ALERT_TOPIC_WARNINGS
from celebops.errors import ConfigError
from celebops.restore.naming import RestoreType


@dataclass(frozen=True)
class RestoreTestConfig:
    source_table: str
    restore_types: tuple[RestoreType, ...]
    restore_timeout_seconds: int
    poll_seconds: int
    count_tolerance_percent: float
    sample_size: int
    scan_segments: int
    rto_target_seconds: int
    rpo_target_seconds: int
    change_attribute: str
    state_parameter: str
    scratch_max_age_hours: int
    critical_after_days: int
    critical_topic_arn: str
    warnings_topic_arn: str
    info_topic_arn: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RestoreTestConfig:
        raw_types = env_list("RESTORE_TYPES", env) or ("backup", "pitr")
        try:
            restore_types = tuple(RestoreType(value) for value in raw_types)
        except ValueError:
            raise ConfigError("RESTORE_TYPES", f"{','.join(raw_types)!r} must list backup and/or pitr") from None
        return cls(
            source_table=env_str("SOURCE_TABLE", env=env),
            restore_types=restore_types,
            # Restores of large tables take hours; a Standard workflow may wait up to a year.
            restore_timeout_seconds=env_int("RESTORE_TIMEOUT_MINUTES", 720, minimum=5, maximum=10080, env=env) * 60,
            # The RTO is measured at the first poll that sees ACTIVE, so it is exact to one poll interval.
            poll_seconds=env_int("POLL_SECONDS", 30, minimum=1, maximum=3600, env=env),
            count_tolerance_percent=env_float("COUNT_TOLERANCE_PERCENT", 1.0, minimum=0.0, env=env),
            sample_size=env_int("SAMPLE_SIZE", 100, minimum=0, maximum=100_000, env=env),
            scan_segments=env_int("SCAN_SEGMENTS", 8, minimum=1, maximum=1000, env=env),
            rto_target_seconds=env_int("RTO_TARGET_SECONDS", 300, minimum=1, env=env),
            rpo_target_seconds=env_int("RPO_TARGET_SECONDS", 300, minimum=1, env=env),
            change_attribute=env_str("CHANGE_ATTRIBUTE", "updated_at", env=env),
            state_parameter=env_str("STATE_PARAMETER", env=env),
            scratch_max_age_hours=env_int("SCRATCH_MAX_AGE_HOURS", 24, minimum=1, env=env),
            critical_after_days=env_int("CRITICAL_AFTER_DAYS", 100, minimum=1, env=env),
            critical_topic_arn=env_str(ENV_ALERT_TOPIC_CRITICAL, env=env),
            warnings_topic_arn=env_str(ENV_ALERT_TOPIC_WARNINGS, env=env),
            info_topic_arn=env_str(ENV_ALERT_TOPIC_INFO, env=env),
        )


class PitrEnforcement(StrEnum):
    ENABLE = "enable"
    ALERT = "alert"


@dataclass(frozen=True)
class BackupGuardConfig:
    source_table: str
    backup_prefix: str
    retention_days: int
    pitr_enforcement: PitrEnforcement
    warnings_topic_arn: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BackupGuardConfig:
        raw_mode = env_str("PITR_ENFORCEMENT", "enable", env=env)
        try:
            mode = PitrEnforcement(raw_mode)
        except ValueError:
            raise ConfigError("PITR_ENFORCEMENT", f"{raw_mode!r} is not enable or alert") from None
        prefix = env_str("BACKUP_PREFIX", "celebrity-database-ops-daily-", env=env)
        # Backup names are 3 to 255 characters of [a-zA-Z0-9_.-]; the date adds 10.
        if len(prefix) > 240 or not all(c.isalnum() or c in "_.-" for c in prefix):
            raise ConfigError("BACKUP_PREFIX", f"{prefix!r} must be at most 240 characters of [a-zA-Z0-9_.-]")
        return cls(
            source_table=env_str("SOURCE_TABLE", env=env),
            backup_prefix=prefix,
            retention_days=env_int("BACKUP_RETENTION_DAYS", 35, minimum=1, maximum=3650, env=env),
            pitr_enforcement=mode,
            warnings_topic_arn=env_str(ENV_ALERT_TOPIC_WARNINGS, env=env),
        )
