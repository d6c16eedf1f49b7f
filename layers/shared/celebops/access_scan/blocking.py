"""Optional blocking: add offenders to AWS WAF IP sets for a ban time, and remove them after it.

An IP set holds one address version, so IPv4 and IPv6 offenders go to two sets. UpdateIPSet
replaces the whole address list and takes the LockToken of the GetIPSet it follows; a concurrent
change makes it fail with WAFOptimisticLockException, which is retried with a fresh read. Only
addresses this job added (recorded in the history table) are ever removed, so entries an operator
added by hand stay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from celebops.access_scan.addresses import address_version, host_cidr

logger = Logger(child=True)

#: The maximum number of addresses in one IP set (AWS WAF quotas).
MAX_IP_SET_ADDRESSES = 10_000
_LOCK_RETRIES = 3


class BanOutcome(StrEnum):
    BLOCKED = "blocked"
    UNBLOCKED = "unblocked"
    ALREADY_BLOCKED = "already_blocked"
    #: No IP set is configured for the address's version.
    NO_IP_SET = "no_ip_set"
    FAILED = "failed"


@dataclass(frozen=True)
class IpSetRef:
    arn: str
    name: str
    id: str
    scope: str

    @classmethod
    def from_arn(cls, arn: str) -> IpSetRef:
        """Parse `arn:aws:wafv2:<region>:<account>:<regional|global>/ipset/<name>/<id>`; raise ValueError."""
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[2] != "wafv2":
            raise ValueError(f"{arn!r} is not an AWS WAF (wafv2) ARN")
        resource = parts[5].split("/")
        if len(resource) != 4 or resource[1] != "ipset" or resource[0] not in ("regional", "global"):
            raise ValueError(f"{arn!r} is not an IP set ARN (expected regional/ipset/<name>/<id>)")
        scope = "REGIONAL" if resource[0] == "regional" else "CLOUDFRONT"
        return cls(arn=arn, name=resource[2], id=resource[3], scope=scope)


@dataclass(frozen=True)
class BanChange:
    address: str
    outcome: BanOutcome
    ip_set_arn: str | None = None
    error_code: str | None = None


def _change_ip_set(wafv2: Any, ip_set: IpSetRef, add: set[str], remove: set[str]) -> str | None:
    """Add and remove CIDRs in one IP set; return None on success or the AWS error code."""
    for _attempt in range(_LOCK_RETRIES):
        try:
            current = wafv2.get_ip_set(Name=ip_set.name, Scope=ip_set.scope, Id=ip_set.id)
            addresses = set(current["IPSet"]["Addresses"])
            wanted = (addresses | add) - remove
            if wanted == addresses:
                return None
            if len(wanted) > MAX_IP_SET_ADDRESSES:
                return "IpSetFull"
            wafv2.update_ip_set(
                Name=ip_set.name,
                Scope=ip_set.scope,
                Id=ip_set.id,
                Addresses=sorted(wanted),
                LockToken=current["LockToken"],
            )
            return None
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
            if code != "WAFOptimisticLockException":
                logger.exception("ip set update failed", extra={"ip_set": ip_set.arn, "error_code": code})
                return code
            logger.warning("ip set changed concurrently, retrying", extra={"ip_set": ip_set.arn})
    return "WAFOptimisticLockException"


def change_bans(
    wafv2: Any, ip_sets: Mapping[int, IpSetRef], block: set[str], unblock: set[str], already: set[str]
) -> list[BanChange]:
    """Block and unblock canonical addresses, one IP set update per address version; report per address."""
    changes: list[BanChange] = []
    for version in (4, 6):
        to_block = {address for address in block if address_version(address) == version}
        to_unblock = {address for address in unblock if address_version(address) == version}
        if not to_block and not to_unblock:
            continue
        ip_set = ip_sets.get(version)
        if ip_set is None:
            changes.extend(BanChange(address, BanOutcome.NO_IP_SET) for address in sorted(to_block | to_unblock))
            continue
        error = _change_ip_set(wafv2, ip_set, {host_cidr(a) for a in to_block}, {host_cidr(a) for a in to_unblock})
        for address in sorted(to_block):
            if error is not None:
                changes.append(BanChange(address, BanOutcome.FAILED, ip_set.arn, error))
            elif address in already:
                changes.append(BanChange(address, BanOutcome.ALREADY_BLOCKED, ip_set.arn))
            else:
                changes.append(BanChange(address, BanOutcome.BLOCKED, ip_set.arn))
        for address in sorted(to_unblock):
            outcome = BanOutcome.FAILED if error is not None else BanOutcome.UNBLOCKED
            changes.append(BanChange(address, outcome, ip_set.arn, error))
    return changes
