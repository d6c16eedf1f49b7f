"""Find offenders among the failed requests, fail2ban-style, in memory bounded by distinct addresses.

Each failure (a 401, or a 403 when configured) is added once, in any order: FilterLogEvents pages
interleave log streams, so no ordering is assumed. Per canonical address the detector keeps a count
per second, the first and last failure and a capped set of routes. Its memory therefore grows with
distinct addresses (times at most the seconds of the scan window each), never with the line count.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from celebops.access_scan.addresses import Allowlist, canonical_address
from celebops.access_scan.parse import AccessRecord

#: Distinct (method, path) routes remembered per address; more are counted, not stored.
MAX_ROUTES_PER_ADDRESS = 64
#: Samples kept of sources that are not IP addresses.
MAX_NON_IP_SAMPLES = 10
#: Raw spellings of one address kept for the report.
MAX_SPELLINGS = 4
#: Raw spellings whose address lookup the detector caches. Beyond it (a client cycling through
#: source ports, say) each new spelling is looked up every time, so memory stays bounded.
MAX_CACHED_SPELLINGS = 65_536
#: Distinct (method, path) tuples the detector shares between addresses. Beyond it, each failure makes its own.
MAX_CACHED_ROUTES = 4096


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


@dataclass(slots=True)
class AddressStats:
    """Mutable per-address accumulator; only the detector changes it.

    Plain dicts keep `Detector.add_fields` to a few dictionary updates per failure.
    """

    failures: int = 0
    #: Failures per Unix second.
    per_second: dict[int, int] = field(default_factory=dict)
    routes: dict[tuple[str, str], int] = field(default_factory=dict)
    #: Failures on routes beyond MAX_ROUTES_PER_ADDRESS, counted but not named.
    other_route_failures: int = 0
    #: Failures per status, kept only when the detector has several failure statuses.
    statuses: dict[int, int] = field(default_factory=dict)
    #: The first MAX_SPELLINGS distinct raw spellings, in the order they were seen.
    spellings: list[str] = field(default_factory=list)
    #: Counts of later parts of the log from `Detector.merge`, in log order, not yet folded into the
    #: fields above. `failures` already includes them.
    later_parts: list[StatsValues] = field(default_factory=list)

    @property
    def first_seen(self) -> int:
        return min(self.per_second)

    @property
    def last_seen(self) -> int:
        return max(self.per_second)

    def may_reach_routes(self, threshold: int) -> bool:
        """Tell whether the distinct routes may reach `threshold` once the later parts are folded in.

        Exact without later parts. With them, it counts each route named in any part once, plus one
        for "other" when any part had other routes, which is never less than folding would give.
        """
        bound = len(self.routes) + (1 if self.other_route_failures else 0)
        for _failures, _per_second, routes, other_routes, _statuses, _spellings in self.later_parts:
            bound += len(routes) + (1 if other_routes else 0)
        if bound < threshold or not self.later_parts:
            return bound >= threshold

        names = set(self.routes)
        any_other = self.other_route_failures
        for _failures, _per_second, routes, other_routes, _statuses, _spellings in self.later_parts:
            names.update(routes)
            any_other += other_routes
        return len(names) + (1 if any_other else 0) >= threshold

    def fold_later_parts(self) -> None:
        """Merge the later parts' counts into the fields, in log order."""
        for _failures, per_second, routes, other_routes, statuses, spellings in self.later_parts:
            for second, count in per_second.items():
                self.per_second[second] = self.per_second.get(second, 0) + count
            for route, count in routes.items():
                self.count_route(route, count)
            self.other_route_failures += other_routes
            for status, count in statuses.items():
                self.statuses[status] = self.statuses.get(status, 0) + count
            for raw in spellings:
                self.note_spelling(raw)
        self.later_parts.clear()

    def count_route(self, route: tuple[str, str], failures: int) -> None:
        known = self.routes.get(route)
        if known is not None:
            self.routes[route] = known + failures
        elif len(self.routes) < MAX_ROUTES_PER_ADDRESS:
            self.routes[route] = failures
        else:
            self.other_route_failures += failures

    def note_spelling(self, raw: str) -> None:
        if len(self.spellings) < MAX_SPELLINGS and raw not in self.spellings:
            self.spellings.append(raw)


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


#: One address's accumulator as plain values, in AddressStats field order.
StatsValues = tuple[int, dict[int, int], dict[tuple[str, str], int], int, dict[int, int], list[str]]


@dataclass(frozen=True)
class DetectorState:
    """A detector's counts as plain dicts and tuples, which pickle fast through a multiprocessing Pipe."""

    addresses: dict[str, StatsValues]
    allowlisted: dict[str, int]
    non_ip_failures: int
    non_ip_samples: dict[str, int]


def densest_window(per_second: Mapping[int, int], find_time_seconds: int) -> Window:
    """Return the window of length `find_time_seconds` holding the most failures.

    A window covers [start, start + find_time_seconds), so 20 failures spanning 599 seconds are
    within 10 minutes and 20 spanning 600 seconds are not. Ties go to the earliest window.
    """
    seconds = sorted(per_second)
    if not seconds:
        raise ValueError("densest_window needs at least one failure")

    # Two pointers over the sorted seconds: `stop` only moves forward, so the search is linear.
    best = Window(count=0, start=seconds[0], end=seconds[0])
    in_window = 0
    stop = 0
    for start in seconds:
        limit = start + find_time_seconds
        while stop < len(seconds) and seconds[stop] < limit:
            in_window += per_second[seconds[stop]]
            stop += 1
        if in_window > best.count:
            best = Window(count=in_window, start=start, end=seconds[stop - 1])
        in_window -= per_second[start]
    return best


class Detector:
    """Accumulate failed requests, then `finish()` into a Detection.

    Detectors fed with different parts of one log give the same Detection as one detector fed with
    all of it once their states are merged in log order with `merge`, apart from the capped lists
    noted there.
    """

    def __init__(self, rules: DetectionRules, failure_statuses: frozenset[int] = frozenset({401})) -> None:
        self.rules = rules
        self.failure_statuses = failure_statuses
        # With one failure status every failure has it, so per-address status counts are skipped.
        self._several_statuses = len(failure_statuses) > 1
        self._stats: dict[str, AddressStats] = {}
        # Raw spelling to its address's accumulator, so canonicalisation and the allowlist run once per spelling.
        self._by_spelling: dict[str, AddressStats] = {}
        self._routes: dict[tuple[str, str], tuple[str, str]] = {}
        self._allowlisted: Counter[str] = Counter()
        self._allowed_cache: dict[str, bool] = {}
        self.non_ip_failures = 0
        self._non_ip_samples: Counter[str] = Counter()

    def add(self, record: AccessRecord) -> bool:
        """Count one record; return False when its status is not a failure status."""
        return self.add_fields(record.source, record.time, record.method, record.path, record.status)

    def add_fields(self, source: str, time: int, method: str, path: str, status: int) -> bool:
        """Count one request given as AccessRecord's fields, or return False when its status is not a failure status."""
        if status not in self.failure_statuses:
            return False
        stats = self._by_spelling.get(source)
        if stats is None:
            stats = self._stats_for(source)
            if stats is None:
                return True

        stats.failures += 1
        per_second = stats.per_second
        per_second[time] = per_second.get(time, 0) + 1
        if self._several_statuses:
            statuses = stats.statuses
            statuses[status] = statuses.get(status, 0) + 1

        # AddressStats.count_route, inlined because this runs once per failure. One tuple per distinct
        # route, shared by all addresses, keeps the state small to pickle.
        route = (method, path)
        shared_route = self._routes.get(route)
        if shared_route is not None:
            route = shared_route
        elif len(self._routes) < MAX_CACHED_ROUTES:
            self._routes[route] = route
        routes = stats.routes
        known = routes.get(route)
        if known is not None:
            routes[route] = known + 1
        elif len(routes) < MAX_ROUTES_PER_ADDRESS:
            routes[route] = 1
        else:
            stats.other_route_failures += 1
        return True

    def _stats_for(self, source: str) -> AddressStats | None:
        """Return the accumulator of a raw spelling, or None after counting a non-IP or allowlisted failure."""
        address = canonical_address(source)
        if address is None:
            self.non_ip_failures += 1
            if source in self._non_ip_samples or len(self._non_ip_samples) < MAX_NON_IP_SAMPLES:
                self._non_ip_samples[source[:64]] += 1
            return None
        allowed = self._allowed_cache.get(address)
        if allowed is None:
            allowed = self.rules.allowlist.contains(address)
            self._allowed_cache[address] = allowed
        if allowed:
            self._allowlisted[address] += 1
            return None

        stats = self._stats.get(address)
        if stats is None:
            stats = self._stats[address] = AddressStats(0, {}, {}, 0, {}, [], [])
        # The address's own string when the spelling is canonical, so the state pickles it once.
        stats.note_spelling(address if source == address else source)
        if len(self._by_spelling) < MAX_CACHED_SPELLINGS:
            self._by_spelling[source] = stats
        return stats

    @property
    def distinct_sources(self) -> int:
        return len(self._stats)

    def state(self) -> DetectorState:
        """Return the counts as plain values for `merge` in another process, sharing this detector's dicts."""
        addresses = {}
        for address, stats in self._stats.items():
            stats.fold_later_parts()
            addresses[address] = (
                stats.failures,
                stats.per_second,
                stats.routes,
                stats.other_route_failures,
                stats.statuses,
                stats.spellings,
            )
        return DetectorState(
            addresses=addresses,
            allowlisted=dict(self._allowlisted),
            non_ip_failures=self.non_ip_failures,
            non_ip_samples=dict(self._non_ip_samples),
        )

    def merge(self, state: DetectorState) -> None:
        """Add the counts of a detector that read the lines after this one's, and take over state's dicts.

        Totals, per-second counts and statuses merge exactly in any order. The capped lists (the first
        MAX_ROUTES_PER_ADDRESS routes, MAX_SPELLINGS spellings and MAX_NON_IP_SAMPLES samples) keep
        the ones seen first, so merge states in log order and after the last `add`.

        An address this detector has seen gets only its failure total updated here. The rest waits in
        `later_parts` until `finish` judges the address, and most addresses are never judged.
        """
        # NOTE: a capped list can differ from one detector's when a later part was already full.
        # If it had MAX_ROUTES_PER_ADDRESS routes of an address before a route named by an earlier
        # part came up, that route's later failures stay in other_route_failures. The same holds for
        # the counts of MAX_NON_IP_SAMPLES. Totals, windows and rules are unaffected.
        for address, values in state.addresses.items():
            stats = self._stats.get(address)
            if stats is None:
                failures, per_second, routes, other_routes, statuses, spellings = values
                self._stats[address] = AddressStats(failures, per_second, routes, other_routes, statuses, spellings)
            else:
                stats.failures += values[0]
                stats.later_parts.append(values)

        self._allowlisted.update(state.allowlisted)
        self.non_ip_failures += state.non_ip_failures
        for raw, count in state.non_ip_samples.items():
            if raw in self._non_ip_samples or len(self._non_ip_samples) < MAX_NON_IP_SAMPLES:
                self._non_ip_samples[raw] += count

    def finish(self, top: int = 10) -> Detection:
        """Judge the addresses and return the Detection; `top` sets how many top_sources it lists."""
        # Only offenders, spreaders and the top sources appear in a Detection, so only they get the
        # window search. An offender has at least max_retry failures in total (the densest window
        # contains no more than that) or more than daily_ceiling.
        rules = self.rules
        floor = min(rules.max_retry, rules.daily_ceiling + 1)
        chosen = {
            address
            for address, stats in self._stats.items()
            if stats.failures >= floor or stats.may_reach_routes(rules.path_spread_threshold)
        }
        top_addresses = heapq.nsmallest(
            max(top, 0), self._stats, key=lambda address: (-self._stats[address].failures, address)
        )
        chosen.update(top_addresses)

        findings = {address: self._judge(address, self._stats[address]) for address in chosen}
        ordered = sorted(findings.values(), key=lambda item: (-item.densest.count, -item.failures, item.address))
        offenders = tuple(item for item in ordered if item.is_offender)
        spreaders = tuple(item for item in ordered if item.spreads_paths and not item.is_offender)
        return Detection(
            failures=sum(stats.failures for stats in self._stats.values()),
            distinct_sources=len(self._stats),
            offenders=offenders,
            spreaders=spreaders,
            top_sources=tuple(findings[address] for address in top_addresses),
            non_ip_failures=self.non_ip_failures,
            non_ip_samples=dict(self._non_ip_samples),
            allowlisted_failures=sum(self._allowlisted.values()),
            allowlisted_sources=len(self._allowlisted),
        )

    def _judge(self, address: str, stats: AddressStats) -> AddressFinding:
        stats.fold_later_parts()
        window = densest_window(stats.per_second, self.rules.find_time_seconds)
        rules: list[OffenceRule] = []
        if window.count >= self.rules.max_retry:
            rules.append(OffenceRule.FIND_TIME)
        if stats.failures > self.rules.daily_ceiling:
            rules.append(OffenceRule.DAILY_CEILING)
        distinct_routes = _distinct_routes(stats)
        top_routes = sorted(stats.routes.items(), key=lambda item: item[1], reverse=True)[:10]
        routes = tuple((method, path, count) for (method, path), count in top_routes)
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
            statuses=dict(stats.statuses) if self._several_statuses else {min(self.failure_statuses): stats.failures},
            spellings=tuple(sorted(stats.spellings)),
        )


def _distinct_routes(stats: AddressStats) -> int:
    return len(stats.routes) + (1 if stats.other_route_failures else 0)
