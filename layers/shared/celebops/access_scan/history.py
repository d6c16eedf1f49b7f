"""Offenders of earlier nights, kept in the suite's DynamoDB table, for repeat detection and ban expiry.

One item per canonical address: `address` (key), `first_night` and `last_night` (dates of the scan
window's end), `previous_night` (the night flagged before `last_night`, empty for none, so a rerun
of the same night still sees the earlier one), `nights` (distinct nights flagged), and while banned
`banned_until` (Unix seconds) and `ip_set_arn`. `expires_at` is the table's TTL attribute, so an
address that stays quiet for the history period is forgotten without a cleanup job.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

logger = Logger(child=True)

#: BatchGetItem reads at most 100 keys per request.
BATCH_GET_LIMIT = 100
_MAX_UNPROCESSED_ROUNDS = 5


@dataclass(frozen=True)
class OffenderHistory:
    address: str
    nights: int
    first_night: str
    last_night: str
    previous_night: str = ""
    banned_until: int | None = None
    ip_set_arn: str | None = None

    def flagged_before(self, night: str, oldest: str) -> bool:
        """Tell whether the address was flagged on a night before `night` and not before `oldest`."""
        earlier = self.previous_night if self.last_night == night else self.last_night
        return bool(earlier) and oldest <= earlier < night

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> OffenderHistory:
        banned = item.get("banned_until", {}).get("N")
        return cls(
            address=item["address"]["S"],
            nights=int(item.get("nights", {}).get("N", "0")),
            first_night=item.get("first_night", {}).get("S", ""),
            last_night=item.get("last_night", {}).get("S", ""),
            previous_night=item.get("previous_night", {}).get("S", ""),
            banned_until=int(banned) if banned is not None else None,
            ip_set_arn=item.get("ip_set_arn", {}).get("S"),
        )


class HistoryError(RuntimeError):
    """The history table could not be read or written; the message names the operation and error code."""


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def load_history(dynamodb: Any, table: str, addresses: Iterable[str]) -> dict[str, OffenderHistory]:
    """Return the stored history of each address that has one."""
    keys = [{"address": {"S": address}} for address in dict.fromkeys(addresses)]
    found: dict[str, OffenderHistory] = {}
    for offset in range(0, len(keys), BATCH_GET_LIMIT):
        pending: dict[str, Any] = {table: {"Keys": keys[offset : offset + BATCH_GET_LIMIT], "ConsistentRead": True}}
        for _ in range(_MAX_UNPROCESSED_ROUNDS):
            try:
                response = dynamodb.batch_get_item(RequestItems=pending)
            except ClientError as exc:
                raise HistoryError(f"BatchGetItem on {table} failed: {_error_code(exc)}") from exc
            for item in response.get("Responses", {}).get(table, []):
                history = OffenderHistory.from_item(item)
                found[history.address] = history
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                break
        if pending:
            raise HistoryError(f"BatchGetItem on {table} left keys unprocessed after {_MAX_UNPROCESSED_ROUNDS} rounds")
    return found


def record_night(dynamodb: Any, table: str, address: str, night: str, expires_at: int) -> bool:
    """Count `night` for `address`; return False when this night was already recorded (a rerun)."""
    try:
        dynamodb.update_item(
            TableName=table,
            Key={"address": {"S": address}},
            UpdateExpression=(
                "SET first_night = if_not_exists(first_night, :night), last_night = :night, "
                "previous_night = if_not_exists(last_night, :none), "
                "expires_at = :expires, nights = if_not_exists(nights, :zero) + :one"
            ),
            ConditionExpression="attribute_not_exists(last_night) OR last_night <> :night",
            ExpressionAttributeValues={
                ":night": {"S": night},
                ":none": {"S": ""},
                ":expires": {"N": str(expires_at)},
                ":zero": {"N": "0"},
                ":one": {"N": "1"},
            },
        )
    except ClientError as exc:
        if _error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise HistoryError(f"UpdateItem on {table} for {address} failed: {_error_code(exc)}") from exc
    return True


def set_ban(dynamodb: Any, table: str, address: str, banned_until: int, ip_set_arn: str, expires_at: int) -> None:
    """Store the ban end; the item outlives the ban, so `expires_at` is raised to cover it."""
    try:
        dynamodb.update_item(
            TableName=table,
            Key={"address": {"S": address}},
            UpdateExpression="SET banned_until = :until, ip_set_arn = :arn, expires_at = :expires",
            ExpressionAttributeValues={
                ":until": {"N": str(banned_until)},
                ":arn": {"S": ip_set_arn},
                ":expires": {"N": str(expires_at)},
            },
        )
    except ClientError as exc:
        raise HistoryError(f"UpdateItem on {table} for {address} failed: {_error_code(exc)}") from exc


def clear_ban(dynamodb: Any, table: str, address: str) -> None:
    try:
        dynamodb.update_item(
            TableName=table, Key={"address": {"S": address}}, UpdateExpression="REMOVE banned_until, ip_set_arn"
        )
    except ClientError as exc:
        raise HistoryError(f"UpdateItem on {table} for {address} failed: {_error_code(exc)}") from exc


def list_bans(dynamodb: Any, table: str) -> list[OffenderHistory]:
    """Return every address the suite banned and has not unbanned yet (the table holds offenders only)."""
    bans: list[OffenderHistory] = []
    request: dict[str, Any] = {"TableName": table, "FilterExpression": "attribute_exists(banned_until)"}
    while True:
        try:
            response = dynamodb.scan(**request)
        except ClientError as exc:
            raise HistoryError(f"Scan on {table} failed: {_error_code(exc)}") from exc
        bans.extend(OffenderHistory.from_item(item) for item in response.get("Items", []))
        last_key = response.get("LastEvaluatedKey")
        if not last_key:
            return bans
        request["ExclusiveStartKey"] = last_key
