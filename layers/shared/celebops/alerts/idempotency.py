"""Once-only delivery per SNS message and destination, with Powertools Idempotency on DynamoDB.

The key is "<SNS MessageId>#<destination>" (a grouped Slack message uses its group key), so a
redelivered message that reached Slack but not PagerDuty goes to PagerDuty only. A failed send
leaves no record (Powertools deletes the in-progress record when the function raises), so the
next delivery of the message tries again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from celebops.alerts.errors import RetryableDeliveryError


class Deduplicator(Protocol):
    def run_once(self, key: str, destination: str, send: Callable[[], None]) -> bool:
        """Run `send` unless `key` already succeeded; return whether it ran."""
        ...

    def register_context(self, context: Any) -> None: ...


class NoDeduplication:
    """Used when IDEMPOTENCY_TABLE is unset: every delivery of a message sends again."""

    def run_once(self, key: str, destination: str, send: Callable[[], None]) -> bool:
        send()
        return True

    def register_context(self, context: Any) -> None:
        return None


class DynamoDBDeduplication:
    """Powertools `idempotent_function` over a table with an `id` string hash key."""

    def __init__(self, table_name: str, dynamodb_client: Any, expires_after_seconds: int = 24 * 3600) -> None:
        # A day outlasts SQS redeliveries of one message (visibility timeout × max receives).
        self._config = IdempotencyConfig(
            event_key_jmespath="key",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=expires_after_seconds,
        )
        persistence = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=dynamodb_client)
        self._send: Callable[[], None] | None = None
        self._ran = False

        @idempotent_function(  # type: ignore[untyped-decorator]
            data_keyword_argument="request", persistence_store=persistence, config=self._config
        )
        def deliver(request: dict[str, str]) -> dict[str, str]:
            assert self._send is not None
            self._ran = True
            self._send()
            return {"destination": request["destination"]}

        self._deliver = deliver

    def register_context(self, context: Any) -> None:
        self._config.register_lambda_context(context)

    def run_once(self, key: str, destination: str, send: Callable[[], None]) -> bool:
        self._send = send
        self._ran = False
        try:
            self._deliver(request={"key": key, "destination": destination})
        except IdempotencyAlreadyInProgressError:
            raise RetryableDeliveryError(destination, "another invocation is delivering this message now") from None
        finally:
            self._send = None
        return self._ran
