"""Errors of the alert router, typed so the batch loop can tell a bad record from a failed delivery."""

from __future__ import annotations


class EnvelopeError(ValueError):
    """A record is not a readable SNS notification or EventBridge event; the message names the problem."""


class DeliveryError(Exception):
    """A destination did not accept a message; `retryable` tells whether SQS should deliver it again.

    The message never contains a webhook URL or routing key: senders build it from the status code
    and the response body only.
    """

    def __init__(self, destination: str, message: str, *, retryable: bool, status: int | None = None) -> None:
        self.destination = destination
        self.retryable = retryable
        self.status = status
        super().__init__(f"{destination}: {message}")


class RetryableDeliveryError(DeliveryError):
    """Rate limited, server error or timeout: the message should come back from SQS later."""

    def __init__(self, destination: str, message: str, status: int | None = None) -> None:
        super().__init__(destination, message, retryable=True, status=status)


class PermanentDeliveryError(DeliveryError):
    """A 4xx other than 429: retrying cannot help, so the record goes to the DLQ after max receives."""

    def __init__(self, destination: str, message: str, status: int | None = None) -> None:
        super().__init__(destination, message, retryable=False, status=status)
