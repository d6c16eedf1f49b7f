"""Names fixed by the template, the metrics contract and the finding schema."""

from __future__ import annotations

#: CloudWatch namespace of every custom metric the suite emits (POWERTOOLS_METRICS_NAMESPACE).
METRICS_NAMESPACE = "custom/celebrity-database"

#: Sources scraped weekly; each is a `Source` dimension value of the freshness metrics.
SOURCES: tuple[str, ...] = ("tmdb", "wikipedia", "news", "social")

# Environment variable names, one place for the template and the code to agree on.
ENV_ALERT_TOPIC_CRITICAL = "CRITICAL_TOPIC_ARN"
ENV_ALERT_TOPIC_WARNINGS = "WARNINGS_TOPIC_ARN"
ENV_ALERT_TOPIC_INFO = "INFO_TOPIC_ARN"
ENV_ALERT_TOPIC_COST = "COST_TOPIC_ARN"
ENV_RETENTION_POLICY = "RETENTION_POLICY"
ENV_RETENTION_MODE = "RETENTION_MODE"
ENV_RETENTION_EXCLUDE = "RETENTION_EXCLUDE"
ENV_DRY_RUN = "DRY_RUN"
ENV_STACK_NAME = "STACK_NAME"
