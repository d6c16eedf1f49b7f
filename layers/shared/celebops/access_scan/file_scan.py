"""Scan a production-format access-log file on disk (a CloudWatch Logs export, say) on several cores.

The Lambda function reads FilterLogEvents instead (see `scan`). Here a line counts when it ends in
` <status>` for a failure status, the test that `grep ' 401$'` and the FilterLogEvents pattern
apply. Each kept line goes through `split_production`, or through `parse_line` when the fast path
declines it. With several workers the file is cut at line boundaries, and each part is read by its
own process into its own Detector. The states are merged in file order, so the Detection equals
that of one process reading the whole file (see `Detector.merge` for the one exception).

Workers are `multiprocessing.Process` objects that send their state through a `Pipe`, because
AWS Lambda has no /dev/shm: the POSIX semaphores behind `Pool`, `Queue` and `Lock` fail there with
OSError [Errno 38], and Process and Pipe use none. Processes are forked, because a spawned
interpreter would spend more time starting than a part takes to scan.
"""

from __future__ import annotations

import heapq
import itertools
import multiprocessing
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import BinaryIO

from celebops.access_scan.detector import Detection, DetectionRules, Detector, DetectorState
from celebops.access_scan.parse import AccessRecord, LogFormat, parse_line, split_production

#: Bytes read per step. A line longer than that doubles the buffer.
CHUNK_BYTES = 1024 * 1024
_NEWLINE = 0x0A


class FileScanError(RuntimeError):
    """A worker process failed or exited before it sent its counts."""


@dataclass(frozen=True)
class FileScanResult:
    detection: Detection
    #: Lines ending in a failure status, the count `grep -c ' 401$'` prints for 401.
    matched_lines: int
    #: Matched lines that are not valid production-format lines, so the detector never saw them.
    malformed_lines: int
    #: Processes that read the file, this one included.
    workers: int


@dataclass(frozen=True)
class _PartResult:
    state: DetectorState
    matched_lines: int
    malformed_lines: int


def scan_file(
    path: Path,
    rules: DetectionRules,
    failure_statuses: frozenset[int] = frozenset({401}),
    workers: int = 1,
    top: int = 10,
    chunk_bytes: int = CHUNK_BYTES,
) -> FileScanResult:
    """Count the failures in an access-log file with up to `workers` processes and judge them.

    This process reads the first part while forked workers read the others. A worker's failure
    raises FileScanError.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if chunk_bytes < 1:
        raise ValueError(f"chunk_bytes must be at least 1, got {chunk_bytes}")
    needles = tuple(f" {status}\n".encode() for status in sorted(failure_statuses))
    bounds = part_bounds(path, workers)

    context = multiprocessing.get_context("fork")
    started: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
    try:
        for start, stop in bounds[1:]:
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(
                target=_scan_part_in_worker,
                args=(path, start, stop, rules, failure_statuses, needles, chunk_bytes, sender),
                daemon=True,
            )
            process.start()
            # Only the worker keeps the sending end open, so recv() ends with EOFError if it dies.
            sender.close()
            started.append((process, receiver))

        detector = Detector(rules, failure_statuses)
        first_start, first_stop = bounds[0]
        matched, malformed = scan_part(path, first_start, first_stop, needles, detector, chunk_bytes)

        # Merge in file order, which keeps the capped route and spelling lists as one reader would.
        for index, (worker, receiver) in enumerate(started, start=1):
            part = _receive(receiver, worker, index)
            detector.merge(part.state)
            matched += part.matched_lines
            malformed += part.malformed_lines
    finally:
        for worker, receiver in started:
            receiver.close()
            worker.join()

    return FileScanResult(detector.finish(top=top), matched, malformed, len(bounds))


def part_bounds(path: Path, parts: int) -> list[tuple[int, int]]:
    """Cut the file into at most `parts` byte ranges of whole lines, of about equal size."""
    size = path.stat().st_size
    cuts = [0]
    with path.open("rb") as source:
        for index in range(1, parts):
            cut = _next_line_start(source, size * index // parts)
            if cuts[-1] < cut < size:
                cuts.append(cut)
    cuts.append(size)
    return list(itertools.pairwise(cuts))


def _next_line_start(source: BinaryIO, offset: int) -> int:
    """Return the offset just after the first newline at or after `offset`, or the file size."""
    source.seek(offset)
    position = offset
    while block := source.read(64 * 1024):
        found = block.find(b"\n")
        if found >= 0:
            return position + found + 1
        position += len(block)
    return position


def scan_part(
    path: Path, start: int, stop: int, needles: tuple[bytes, ...], detector: Detector, chunk_bytes: int = CHUNK_BYTES
) -> tuple[int, int]:
    """Feed the lines of bytes [start, stop) that end in one of `needles` to the detector.

    Returns (matched lines, malformed lines). `start` must be a line start. The last line of the
    file counts even without a final newline, as grep counts it.
    """
    matched = 0
    malformed = 0
    buffer = bytearray(chunk_bytes)
    carried = 0  # bytes of an unfinished line moved to the buffer's start
    remaining = stop - start
    with path.open("rb") as source:
        source.seek(start)
        while True:
            if carried == len(buffer):
                buffer.extend(bytes(len(buffer)))
            to_read = min(len(buffer) - carried, remaining)
            read = source.readinto(memoryview(buffer)[carried : carried + to_read]) if to_read else 0
            remaining -= read
            end = carried + read
            finished = read == 0 or remaining == 0

            if finished:
                if end and buffer[end - 1] != _NEWLINE:
                    buffer[end:end] = b"\n"
                    end += 1
                cut = end
            else:
                cut = buffer.rfind(b"\n", 0, end) + 1

            for line_end in _matching_line_ends(buffer, cut, needles):
                matched += 1
                line_start = buffer.rfind(b"\n", 0, line_end) + 1
                line = buffer[line_start:line_end]
                try:
                    text = line.decode()
                except UnicodeDecodeError:
                    text = line.decode("utf-8", "replace")
                fields = split_production(text)
                if fields is not None:
                    detector.add_fields(*fields)
                elif not _count_unusual_line(text, detector):
                    malformed += 1

            if finished:
                return matched, malformed
            carried = end - cut
            buffer[:carried] = buffer[cut:end]


def _matching_line_ends(buffer: bytearray, end: int, needles: tuple[bytes, ...]) -> Iterator[int]:
    """Yield in order the newline positions before `end` of the lines that end in one of `needles`."""
    if len(needles) == 1:
        return _line_ends(buffer, end, needles[0])
    return heapq.merge(*(_line_ends(buffer, end, needle) for needle in needles))


def _line_ends(buffer: bytearray, end: int, needle: bytes) -> Iterator[int]:
    position = buffer.find(needle, 0, end)
    while position >= 0:
        line_end = position + len(needle) - 1
        yield line_end
        position = buffer.find(needle, line_end + 1, end)


def _count_unusual_line(text: str, detector: Detector) -> bool:
    """Add a line that split_production declined, or return False when it is malformed."""
    outcome = parse_line(text, LogFormat.PRODUCTION)
    if isinstance(outcome, AccessRecord):
        detector.add(outcome)
        return True
    return False


def _scan_part_in_worker(
    path: Path,
    start: int,
    stop: int,
    rules: DetectionRules,
    failure_statuses: frozenset[int],
    needles: tuple[bytes, ...],
    chunk_bytes: int,
    sender: Connection,
) -> None:
    try:
        detector = Detector(rules, failure_statuses)
        matched, malformed = scan_part(path, start, stop, needles, detector, chunk_bytes)
        sender.send(_PartResult(detector.state(), matched, malformed))
    except Exception as exc:  # the parent re-raises it as FileScanError with the worker's message
        sender.send(f"{type(exc).__name__}: {exc}")
    finally:
        sender.close()


def _receive(receiver: Connection, process: multiprocessing.process.BaseProcess, index: int) -> _PartResult:
    try:
        message = receiver.recv()
    except EOFError:
        process.join()
        raise FileScanError(
            f"access-log scan worker {index} exited with code {process.exitcode} before sending its counts."
            " Run with workers=1 to raise the error in this process."
        ) from None
    if isinstance(message, _PartResult):
        return message
    raise FileScanError(f"access-log scan worker {index} failed: {message}")
