"""Publishing findings to the suite's SNS topics."""

from __future__ import annotations

from typing import Any

from celebops.findings import Finding

# SNS cuts subjects at 100 characters and rejects control characters in them.
_MAX_SUBJECT = 100


def subject_for(finding: Finding) -> str:
    """Return an SNS subject: the title on one line, cut to 100 characters with a marker."""
    line = " ".join(finding.title.split())
    if len(line) <= _MAX_SUBJECT:
        return line
    return line[: _MAX_SUBJECT - 1] + "…"


def publish_finding(sns_client: Any, topic_arn: str, finding: Finding) -> str:
    """Publish `finding` to `topic_arn` and return the SNS message id."""
    response = sns_client.publish(
        TopicArn=topic_arn,
        Subject=subject_for(finding),
        Message=finding.to_json(),
        MessageAttributes={
            "severity": {"DataType": "String", "StringValue": finding.severity.value},
            "kind": {"DataType": "String", "StringValue": finding.kind},
        },
    )
    return str(response["MessageId"])
