# celebrity-database-ops: every target sets up what it needs (venv, Python 3.13, packages).
# `make demo` runs the suite end to end on the embedded AWS; `make test` runs every check.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Lambda's python3.13 runtime: take python3.13 from PATH, else from a pyenv install.
PYTHON313 ?= $(shell for p in python3.13 $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.13*/bin/python3.13; do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null && { command -v "$$p"; break; }; done)
# The venv's bin comes first so `sam build` finds python3.13 for the runtime.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1

FN ?=
EVENT ?=
ENV ?= default
REPORT ?=
PARAMS ?=
TARGET ?= local
ALARM ?=

.PHONY: help venv build test lint validate unit integration package-check demo invoke fire-drill bench cost dashboards clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 18

$(STAMP): requirements-dev.txt layers/shared/requirements.txt constraints.txt
	@if [ -z "$(PYTHON313)" ]; then \
		echo "error: python3.13 not found on PATH or under ~/.pyenv/versions; install Python 3.13" >&2; exit 1; fi
	@test -x $(PY) || $(PYTHON313) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	@touch $(STAMP)

TOOLS := .venv-tools
$(TOOLS)/.installed: requirements-tools.txt
	@if [ -z "$(PYTHON313)" ]; then echo "error: python3.13 not found" >&2; exit 1; fi
	@test -x $(TOOLS)/bin/python || $(PYTHON313) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet -r requirements-tools.txt
	@touch $@

venv: $(STAMP) ## Create .venv with Python 3.13 and the pinned packages

build: $(STAMP) ## sam build: functions and the shared layer into .aws-sam/build
	@mkdir -p .local
	# One build at a time: parallel builds into the same .aws-sam folder leave the layer half-written.
	# Build messages go to standard error, so `make invoke` prints only the handler's JSON on standard output.
	flock .local/build.lock sam build --cached --parallel 1>&2

lint: $(STAMP) ## ruff lint and format check, mypy --strict on the shared layer
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

validate: $(STAMP) $(TOOLS)/.installed ## cfn-lint, sam validate --lint and checkov on template.yaml
	$(VENV)/bin/cfn-lint --include-checks I -- template.yaml
	sam validate --lint --region us-east-1
	$(TOOLS)/bin/checkov --config-file .checkov.yaml

package-check: build ## Import every built handler as Lambda would (/var/task + /opt/python only)
	$(PY) -m harness.package_check

unit: $(STAMP) ## Unit and template tests
	$(PY) -m pytest tests/unit tests/template

integration: $(STAMP) ## Integration tests against the moto server and local receivers
	$(PY) -m pytest tests/integration

test: lint validate package-check ## Everything: lint, template checks, packaging, all tests
	$(PY) -m pytest tests

demo: build ## Run the suite end to end on the embedded AWS (REPORT=path.json to save the summary)
	$(PY) -m harness.demo $(if $(REPORT),--report $(REPORT))

invoke: build ## Run one function like `sam local invoke`: make invoke FN=LogRetentionFunction EVENT=events/x.json
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=<LogicalId> EVENT=events/<file>.json [ENV=default|prod] [PARAMS='Name=Value ...']" >&2; exit 2; }
	$(PY) -m harness.invoke --function $(FN) --event $(EVENT) --config-env $(ENV) --parameter-overrides '$(PARAMS)'

fire-drill: build ## Push an alarm through Slack and PagerDuty and back to OK: TARGET=local|aws ALARM=<name>
	$(PY) -m harness.fire_drill --target $(TARGET) $(if $(ALARM),--alarm $(ALARM))

bench: build ## Benchmarks, written to docs/benchmarks.md with the machine and the command
	$(PY) -m benchmarks.run

cost: $(STAMP) ## Monthly AWS bill of the suite from template.yaml and docs/benchmarks.json, into docs/cost.md
	$(PY) -m benchmarks.cost

dashboards: build ## Run the demo, then preview the four dashboards with its metrics under .local/dashboards/
	$(PY) -m harness.demo --metrics-snapshot > .local/dashboards-demo.log || { tail -40 .local/dashboards-demo.log; exit 1; }
	$(PY) -m harness.dashboards $(if $(PNG),--png)

clean: ## Remove build output and local state (keeps .venv)
	rm -rf .aws-sam .local .pytest_cache .ruff_cache .mypy_cache
