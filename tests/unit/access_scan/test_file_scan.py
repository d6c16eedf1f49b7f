"""Scanning an access-log file: one process or several, chunk edges, and worker failures."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from celebops.access_scan import file_scan
from celebops.access_scan.detector import Detection, DetectionRules, Detector
from celebops.access_scan.file_scan import FileScanError, part_bounds, scan_file
from celebops.access_scan.parse import AccessRecord, _parse_production_regex

SOURCES = [
    "203.0.113.66",
    "203.0.113.66:41000",
    "[2001:db8::7]:50123",
    "2001:DB8:0:0:0:0:0:7",
    "2001:db8::7",
    "::ffff:198.51.100.4",
    "-",
    "test-invoke-source-ip",
] + [f"198.51.100.{index}" for index in range(10, 40)]


def _write_log(path: Path, lines: int, seed: int) -> Path:
    """Write production lines with bursts, odd spellings, malformed 401 lines and no final newline."""
    rng = random.Random(seed)
    rows = []
    for index in range(lines):
        source = "203.0.113.66" if index % 7 == 0 else rng.choice(SOURCES)
        second = index // 3
        clock = (
            f"{3 + second // 86_400:02d}/Dec/2026:{second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
        )
        route = f"/celebrities/{rng.randrange(9)}" if source.startswith("203") else "/celebrities"
        status = rng.choice(["401", "401", "403", "200", "404"])
        rows.append(f'{rng.getrandbits(32):08x} {source} {clock} +0000 "GET {route}" {status}')
    rows[5] = "garbage 401"
    rows[6] = '   r-6 198.51.100.10 03/Dec/2026:00:00:02 +0000 "GET /padded" 401'
    rows[7] = 'r-7 198.51.100.10 03/Dec/2026:00:00:02 +0000 "GET /crlf" 401\r'
    rows[8] = 'r-8 198.51.100.11 03/Dec/2026:00:00:02 +0000 "GET /' + "a" * 9000 + '" 401'
    rows[9] = 'r-9 198.51.100.12 03/Dec/2026:00:00:03 +0000 "GET /caf\u00e9 b" 401'
    rows[-1] = 'r-last 198.51.100.13 04/Dec/2026:00:00:00 +0000 "GET /last" 401'
    path.write_bytes("\n".join(rows).encode())
    return path


def _reference(path: Path, statuses: frozenset[int]) -> tuple[Detection, int, int]:
    """Read the file line by line with the regex parser only, as `grep ' 401$'` selects lines."""
    detector = Detector(DetectionRules(), statuses)
    matched = 0
    malformed = 0
    # read_text would turn CRLF into LF, which grep does not.
    for line in path.read_bytes().decode().split("\n"):
        if not any(line.endswith(f" {status}") for status in statuses):
            continue
        matched += 1
        outcome = _parse_production_regex(line.strip())
        if isinstance(outcome, AccessRecord):
            detector.add(outcome)
        else:
            malformed += 1
    return detector.finish(top=50), matched, malformed


@pytest.fixture(scope="module")
def log_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_log(tmp_path_factory.mktemp("logs") / "access.log", lines=6000, seed=3)


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_scan_file_equals_line_by_line_reading(log_file: Path, workers: int) -> None:
    detection, matched, malformed = _reference(log_file, frozenset({401}))

    result = scan_file(log_file, DetectionRules(), workers=workers, top=50, chunk_bytes=4096)

    assert result.workers == workers
    assert result.matched_lines == matched
    assert result.malformed_lines == malformed
    assert result.detection == detection


def test_parallel_scan_equals_serial_scan(log_file: Path) -> None:
    serial = scan_file(log_file, DetectionRules(), workers=1, top=50)

    parallel = scan_file(log_file, DetectionRules(), workers=2, top=50)

    assert parallel.detection == serial.detection
    assert parallel.matched_lines == serial.matched_lines
    assert serial.detection.offenders[0].address == "203.0.113.66"


def test_scan_file_counts_two_statuses(log_file: Path) -> None:
    statuses = frozenset({401, 403})
    detection, matched, malformed = _reference(log_file, statuses)

    result = scan_file(log_file, DetectionRules(), failure_statuses=statuses, workers=2, top=50, chunk_bytes=4096)

    assert result.matched_lines == matched
    assert result.malformed_lines == malformed
    assert result.detection == detection


def test_scan_file_counts_last_line_without_newline(log_file: Path) -> None:
    result = scan_file(log_file, DetectionRules(), workers=2, top=100)

    addresses = {item.address for item in result.detection.top_sources}

    assert not log_file.read_bytes().endswith(b"\n")
    assert "198.51.100.13" in addresses


def test_part_bounds_cut_at_line_starts(log_file: Path) -> None:
    data = log_file.read_bytes()

    bounds = part_bounds(log_file, 4)

    assert len(bounds) == 4
    assert bounds[0][0] == 0
    assert bounds[-1][1] == len(data)
    for (_, stop), (start, _) in itertools.pairwise(bounds):
        assert stop == start
        assert data[start - 1 : start] == b"\n"


def test_part_bounds_of_tiny_file(tmp_path: Path) -> None:
    path = tmp_path / "one.log"
    path.write_bytes(b"only one line 401\n")

    assert part_bounds(path, 8) == [(0, 18)]


def test_worker_failure_raises(log_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scan_part = file_scan.scan_part

    def failing_after_first_part(path: Path, start: int, *args: object, **kwargs: object) -> tuple[int, int]:
        if start > 0:
            raise OSError("disk read failed")
        return scan_part(path, start, *args, **kwargs)

    # The forked worker inherits the patched function.
    monkeypatch.setattr(file_scan, "scan_part", failing_after_first_part)

    with pytest.raises(FileScanError) as raised:
        scan_file(log_file, DetectionRules(), workers=2)

    assert "OSError: disk read failed" in str(raised.value)


def test_scan_file_rejects_zero_workers(log_file: Path) -> None:
    with pytest.raises(ValueError, match="workers") as raised:
        scan_file(log_file, DetectionRules(), workers=0)

    assert "got 0" in str(raised.value)
