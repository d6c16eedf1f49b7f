"""Find offenders among the failed requests, fail2ban-style, in memory bounded by distinct addresses.

Each failure (a 401, or a 403 when configured) is added once, in any order: FilterLogEvents pages
interleave log streams, so no ordering is assumed. Per canonical address the detector keeps a count
per second, the first and last failure and a capped set of routes. Its memory therefore grows with
distinct addresses (times at most the seconds of the scan window each), never with the line count.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

from celebops.access_scan.addresses import Allowlist, canonical_address
from celebops.access_scan.parse import AccessRecord

#: Distinct (method, path) routes remembered per address; more are counted, not stored.
MAX_ROUTES_PER_ADDRESS = 64
#: Samples kept of sources that are not IP addresses.
MAX_NON_IP_SAMPLES = 10


class OffenceRule(StrEnum):
    #: At least max_retry failures within find_time seconds.
    FIND_TIME = "max_retry_within_find_time"
    #: More than daily_ceiling failures in the whole scan window.
    DAILY_CEILING = "daily_ceiling"


@dataclass(frozen=True)
class DetectionRules:
    max_retry: int = 20
    find_time_seconds: int = 600
    #: An address with more failures than this in the scan window is an offender however slow it is.
    daily_ceiling: int = 30
    #: An address that failed on at least this many distinct (method, path) routes is reported as a spreader.
    path_spread_threshold: int = 5
    allowlist: Allowlist = field(default_factory=Allowlist)


@dataclass(frozen=True)
class Window:
    """The densest run of failures: `count` failures from `start` to `end` (Unix seconds, inclusive)."""

    count: int
    start: int
    end: int


@dataclass
class AddressStats:
    """Mutable per-address accumulator; only the detector changes it."""

    failures: int = 0
    per_second: Counter[int] = field(default_factory=Counter)
    routes: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: Failures on routes beyond MAX_ROUTES_PER_ADDRESS, counted but not named.
    other_route_failures: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    spellings: set[str] = field(default_factory=set)

    @property
    def first_seen(self) -> int:
        return min(self.per_second)

    @property
    def last_seen(self) -> int:
        return max(self.per_second)


@dataclass(frozen=True)
class AddressFinding:
    address: str
    failures: int
    densest: Window
    first_seen: int
    last_seen: int
    #: (method, path, failures), most failures first.
    routes: tuple[tuple[str, str, int], ...]
    distinct_routes: int
    rules: tuple[OffenceRule, ...]
    spreads_paths: bool
    statuses: dict[int, int]
    #: Raw spellings seen for this address (port, brackets, expanded IPv6), capped at a few.
    spellings: tuple[str, ...]

    @property
    def is_offender(self) -> bool:
        return bool(self.rules)


@dataclass(frozen=True)
class Detection:
    failures: int
    distinct_sources: int
    offenders: tuple[AddressFinding, ...]
    #: Addresses spreading failures over many routes without breaking a rule.
    spreaders: tuple[AddressFinding, ...]
    #: The addresses with the most failures, offender or not.
    top_sources: tuple[AddressFinding, ...]
    non_ip_failures: int
    non_ip_samples: dict[str, int]
    allowlisted_failures: int
    allowlisted_sources: int


def densest_window(per_second: Counter[int], find_time_seconds: int) -> Window:
    """Return the window of length `find_time_seconds` holding the most failures.

    A window covers [start, start + find_time_seconds), so 20 failures spanning 599 seconds are
    within 10 minutes and 20 spanning 600 seconds are not. Ties go to the earliest window.
    """
    seconds = sorted(per_second)
    if not seconds:
        raise ValueError("densest_window needs at least one failure")
    prefix = [0]
    for second in seconds:
        prefix.append(prefix[-1] + per_second[second])
    best = Window(count=0, start=seconds[0], end=seconds[0])
    for index, start in enumerate(seconds):
        stop = bisect.bisect_left(seconds, start + find_time_seconds, lo=index)
        count = prefix[stop] - prefix[index]
        if count > best.count:
            best = Window(count=count, start=start, end=seconds[stop - 1])
    return best


class Detector:
    """Accumulate failed requests, then `finish()` into a Detection."""

    def __init__(self, rules: DetectionRules, failure_statuses: frozenset[int] = frozenset({401})) -> None:
        self.rules = rules
        self.failure_statuses = failure_statuses
        self._stats: dict[str, AddressStats] = {}
        self._allowlisted: Counter[str] = Counter()
        self._allowed_cache: dict[str, bool] = {}
        self.non_ip_failures = 0
        self._non_ip_samples: Counter[str] = Counter()

    def add(self, record: AccessRecord) -> bool:
        """Count one record; return False when its status is not a failure status."""
        if record.status not in self.failure_statuses:
            return False
        address = canonical_address(record.source)
        if address is None:
            self.non_ip_failures += 1
            if record.source in self._non_ip_samples or len(self._non_ip_samples) < MAX_NON_IP_SAMPLES:
                self._non_ip_samples[record.source[:64]] += 1
            return True
        allowed = self._allowed_cache.get(address)
        if allowed is None:
            allowed = self.rules.allowlist.contains(address)
            self._allowed_cache[address] = allowed
        if allowed:
            self._allowlisted[address] += 1
            return True

        stats = self._stats.get(address)
        if stats is None:
            stats = self._stats[address] = AddressStats()
        stats.failures += 1
        stats.per_second[record.time] += 1
        stats.statuses[record.status] += 1
        route = (record.method, record.path)
        if route in stats.routes or len(stats.routes) < MAX_ROUTES_PER_ADDRESS:
            stats.routes[route] += 1
        else:
            stats.other_route_failures += 1
        if len(stats.spellings) < 4:
            stats.spellings.add(record.source)
        return True

    @property
    def distinct_sources(self) -> int:
        return len(self._stats)

    def finish(self, top: int = 10) -> Detection:
        findings = [self._judge(address, stats) for address, stats in self._stats.items()]
        findings.sort(key=lambda item: (-item.densest.count, -item.failures, item.address))
        offenders = tuple(item for item in findings if item.is_offender)
        spreaders = tuple(item for item in findings if item.spreads_paths and not item.is_offender)
        by_failures = sorted(findings, key=lambda item: (-item.failures, item.address))
        return Detection(
            failures=sum(stats.failures for stats in self._stats.values()),
            distinct_sources=len(self._stats),
            offenders=offenders,
            spreaders=spreaders,
            top_sources=tuple(by_failures[:top]),
            non_ip_failures=self.non_ip_failures,
            non_ip_samples=dict(self._non_ip_samples),
            allowlisted_failures=sum(self._allowlisted.values()),
            allowlisted_sources=len(self._allowlisted),
        )

    def _judge(self, address: str, stats: AddressStats) -> AddressFinding:
        window = densest_window(stats.per_second, self.rules.find_time_seconds)
        rules: list[OffenceRule] = []
        if window.count >= self.rules.max_retry:
            rules.append(OffenceRule.FIND_TIME)
        if stats.failures > self.rules.daily_ceiling:
            rules.append(OffenceRule.DAILY_CEILING)
        distinct_routes = len(stats.routes) + (1 if stats.other_route_failures else 0)
        routes = tuple((method, path, count) for (method, path), count in stats.routes.most_common(10))
        return AddressFinding(
            address=address,
            failures=stats.failures,
            densest=window,
            first_seen=stats.first_seen,
            last_seen=stats.last_seen,
            routes=routes,
            distinct_routes=distinct_routes,
            rules=tuple(rules),
            spreads_paths=distinct_routes >= self.rules.path_spread_threshold,
            statuses=dict(stats.statuses),
            spellings=tuple(sorted(stats.spellings)),
        )
