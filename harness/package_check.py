"""Packaging check: import every built handler the way Lambda's cold start does.

Each handler module is imported from `.aws-sam/build/<Function>` with only the built layers on
`sys.path` (Lambda's /var/task and /opt/python), in an isolated Python 3.13 process, with the
Environment the template gives the function. A dependency missing from the layer, a module
left out of CodeUri, or a configuration error at import time fails here, not in AWS.
"""

from __future__ import annotations

import sys

from harness.environment import LocalEnvironment
from harness.invoke import invoke


def main() -> int:
    failures = 0
    with LocalEnvironment() as env:
        for logical_id, function in sorted(env.deployment.functions.items()):
            invocation = invoke(function, {}, env.aws, {}, ship_logs=False, import_only=True)
            if invocation.ok:
                print(f"ok    {logical_id}: {function.handler} imports from {function.build_dir}")
            else:
                failures += 1
                error = invocation.error or {}
                print(f"FAIL  {logical_id}: {error.get('errorType')}: {error.get('errorMessage')}")
                for line in invocation.logs[-20:]:
                    print(f"      {line}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
