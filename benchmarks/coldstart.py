"""Cold import time of every function's handler against the floor of boto3 plus its clients.

Each sample is one fresh base interpreter run with `-I -S -B`, whose sys.path has only the
function's `sam build` folder and `SharedLayer/python` (Lambda's /var/task and /opt/python) and the
standard library. The child times its own import with `time.perf_counter()`, so interpreter
start-up is excluded. Floor and handler processes alternate, so drift of the machine hits both.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.template_model import FunctionSpec, SuiteModel, realistic_environment

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / ".aws-sam" / "build"
LAYER_DIR = BUILD / "SharedLayer" / "python"
IMPORT_PROCESSES = 11
IMPORT_GOAL = 1.25

# No request leaves the machine: clients are only created, and the endpoint is the discard port.
_AWS_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}

# argv: function dir, layer dir, "handler" or "floor", handler module or comma-separated services.
_CHILD_CODE = """
import importlib, json, sys, time
sys.path[0:0] = sys.argv[1:3]
start = time.perf_counter()
if sys.argv[3] == "handler":
    importlib.import_module(sys.argv[4])
else:
    import boto3
    for service in filter(None, sys.argv[4].split(",")):
        boto3.client(service)
print(json.dumps({"seconds": time.perf_counter() - start}))
"""

_CLIENT_CALL = re.compile(r"""client\(\s*["']([a-z0-9-]+)["']""")


@dataclass(frozen=True)
class ColdStart:
    function: str
    services: tuple[str, ...]
    processes: int
    handler_ms: float
    floor_ms: float
    handler_min_ms: float
    handler_max_ms: float
    top_imports: list[tuple[str, float]] = field(default_factory=list)  # package, ms only the handler imports

    @property
    def ratio(self) -> float:
        return self.handler_ms / self.floor_ms

    @property
    def meets_goal(self) -> bool:
        return self.ratio <= IMPORT_GOAL


def code_dir_for(function: FunctionSpec) -> Path:
    return BUILD / function.logical_id


def clients_in_code(function: FunctionSpec) -> set[str]:
    """Service names passed to `client("...")` in the function's code or the shared layer's package."""
    found: set[str] = set()
    sources = [*(code_dir_for(function).rglob("*.py")), *((LAYER_DIR / "celebops").rglob("*.py"))]
    for path in sources:
        found |= set(_CLIENT_CALL.findall(path.read_text(encoding="utf-8", errors="replace")))
    return found


def floor_services(function: FunctionSpec) -> tuple[str, ...]:
    """The clients the function needs: its IAM service prefixes that some code creates a client for.

    `kms:Decrypt` for an encrypted event source, for example, is used by Lambda's poller, not by a
    client of the function, so a prefix no code creates a client for is left out.
    """
    in_code = clients_in_code(function)
    return tuple(service for service in function.iam_services if service in in_code)


def _child_environment(model: SuiteModel, function: FunctionSpec) -> dict[str, str]:
    return {**realistic_environment(model, function), **_AWS_ENV}


def _run_child(
    function: FunctionSpec, mode: str, argument: str, env: dict[str, str], importtime: bool = False
) -> subprocess.CompletedProcess[str]:
    flags = ["-I", "-S", "-B", *(["-X", "importtime"] if importtime else [])]
    command = [sys._base_executable, *flags, "-c", _CHILD_CODE, str(code_dir_for(function)), str(LAYER_DIR)]
    completed = subprocess.run(  # noqa: S603 - fixed interpreter and arguments
        [*command, mode, argument], capture_output=True, text=True, env=env, cwd=ROOT, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"cold import of {function.logical_id} ({mode}) failed with exit code {completed.returncode}; "
            f"run `make package-check` to see why:\n{completed.stderr[-1500:]}"
        )
    return completed


def _seconds(completed: subprocess.CompletedProcess[str]) -> float:
    return float(json.loads(completed.stdout.strip().splitlines()[-1])["seconds"])


def _imported_packages(stderr: str) -> dict[str, float]:
    """Self time in ms per top-level package from `-X importtime` output."""
    totals: dict[str, float] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line.split("|")
        try:
            self_us = float(parts[0].split(":", 1)[1])
        except ValueError:
            continue  # the header line
        package = parts[2].strip().split(".")[0]
        totals[package] = totals.get(package, 0.0) + self_us / 1000
    return totals


def handler_only_imports(
    model: SuiteModel, function: FunctionSpec, services: tuple[str, ...]
) -> list[tuple[str, float]]:
    """Return packages the handler imports beyond the floor, heaviest first, from `-X importtime`."""
    env = _child_environment(model, function)
    module = function.handler.rpartition(".")[0]
    handler = _imported_packages(_run_child(function, "handler", module, env, importtime=True).stderr)
    floor = _imported_packages(_run_child(function, "floor", ",".join(services), env, importtime=True).stderr)
    extra = {name: ms - floor.get(name, 0.0) for name, ms in handler.items()}
    ranked = sorted(((name, ms) for name, ms in extra.items() if ms > 1.0), key=lambda item: -item[1])
    return ranked[:6]


def measure(model: SuiteModel, function: FunctionSpec, processes: int = IMPORT_PROCESSES) -> ColdStart:
    """Measure one function: one uncounted warm-up of each kind, then `processes` alternating pairs."""
    services = floor_services(function)
    env = _child_environment(model, function)
    module = function.handler.rpartition(".")[0]
    joined = ",".join(services)
    _run_child(function, "handler", module, env)
    _run_child(function, "floor", joined, env)
    handler_ms: list[float] = []
    floor_ms: list[float] = []
    for _ in range(processes):
        floor_ms.append(_seconds(_run_child(function, "floor", joined, env)) * 1000)
        handler_ms.append(_seconds(_run_child(function, "handler", module, env)) * 1000)
    result = ColdStart(
        function=function.logical_id,
        services=services,
        processes=processes,
        handler_ms=statistics.median(handler_ms),
        floor_ms=statistics.median(floor_ms),
        handler_min_ms=min(handler_ms),
        handler_max_ms=max(handler_ms),
    )
    if not result.meets_goal:
        return ColdStart(**{**result.__dict__, "top_imports": handler_only_imports(model, function, services)})
    return result


def built(function: FunctionSpec) -> bool:
    module = function.handler.rpartition(".")[0].replace(".", "/")
    return (code_dir_for(function) / f"{module}.py").is_file() and (LAYER_DIR / "celebops").is_dir()
