"""Run one Lambda handler the way the python3.13 runtime does, inside an isolated interpreter.

Started as `python3.13 -I -S lambda_bootstrap.py SPEC RESULT` by `harness.invoke`: `-I -S` leave
out site-packages, PYTHONPATH and the working directory, so the handler sees only its own code
folder (/var/task in Lambda) and its layers (/opt/python), exactly what it would ship with.
This file uses the standard library only, because nothing else is importable here.
"""

import importlib
import json
import os
import resource
import sys
import time
import traceback
import uuid


class LambdaContext:
    """The fields of the runtime's context object that handlers and Powertools read."""

    def __init__(self, name: str, arn: str, memory: int, timeout: int) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = arn
        self.memory_limit_in_mb = memory
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main() -> int:
    spec_path, result_path = sys.argv[1], sys.argv[2]
    with open(spec_path) as handle:
        spec = json.load(handle)

    # /var/task first, then each layer's python/ folder, then the interpreter's standard library.
    sys.path[:0] = [spec["code_dir"], *spec["layer_dirs"]]
    os.environ.clear()
    os.environ.update(spec["environment"])
    os.chdir(spec["code_dir"])

    context = LambdaContext(spec["name"], spec["arn"], spec["memory_size"], spec["timeout"])
    module_name, _, function_name = spec["handler"].rpartition(".")
    outcome: dict[str, object]
    # Lambda's Duration metric covers the handler call only, not the cold start's imports.
    handler_started: float | None = None
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
        handler_started = time.monotonic()
        # The packaging check imports the handler as a cold start would, and calls nothing.
        result = None if spec.get("import_only") else handler(spec["event"], context)
        outcome = {"status": "ok", "result": result}
    except Exception as exc:
        outcome = {
            "status": "error",
            "errorType": type(exc).__name__,
            "errorMessage": str(exc),
            "stackTrace": traceback.format_exception(exc),
        }
    if handler_started is not None:
        outcome["handler_duration_ms"] = (time.monotonic() - handler_started) * 1000
    outcome["request_id"] = context.aws_request_id
    # Peak resident memory of this process, as Lambda's REPORT line gives it ("Max Memory Used").
    outcome["max_memory_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    with open(result_path, "w") as handle:
        json.dump(outcome, handle, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
