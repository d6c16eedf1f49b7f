"""The embedded AWS: a moto server process on 127.0.0.1 and a free port.

Code under test reaches it only through the standard `AWS_ENDPOINT_URL` variable (and fake
credentials), exactly as it would reach AWS: `environment()` returns those variables.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.paths import LOCAL

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MotoServer:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self, region: str = REGION) -> dict[str, str]:
        """Variables that point boto3 at this server with fake credentials."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
            # Keep boto3 from reading the developer's real profile and config.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def reset(self) -> None:
        """Drop every resource in the server (moto's reset API), for a clean test."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - loopback only
            pass

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _wait_ready(server: MotoServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            log = server.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"moto server exited with code {server.process.returncode}:\n{log}")
        try:
            with urllib.request.urlopen(f"{server.endpoint}/moto-api/", timeout=1):  # noqa: S310 - loopback only
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    server.stop()
    raise TimeoutError(f"moto server on {server.endpoint} not ready after {timeout:.0f} s; see {server.log_path}")


def start(port: int | None = None, log_dir: Path = LOCAL, timeout: float = 30.0) -> MotoServer:
    """Start `moto_server` on 127.0.0.1 and wait until it answers."""
    chosen = port or free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"moto-{chosen}.log"
    env = {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "false"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(chosen)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = MotoServer(port=chosen, process=process, log_path=log_path)
    _wait_ready(server, timeout)
    return server


@contextlib.contextmanager
def running(port: int | None = None) -> Iterator[MotoServer]:
    """Run a moto server for the duration of a `with` block."""
    server = start(port)
    try:
        yield server
    finally:
        server.stop()
