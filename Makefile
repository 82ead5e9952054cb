# The two commands of the README. Both (re)build .venv from pyproject.toml when it is missing or stale.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test slow soak demo lint bench clean

# `make run ARGS="--offscreen --screenshot out.png"` passes options to the console.
ARGS ?=

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "SyncScope needs Python 3.11 or newer on PATH (python3.11, python3.12 or python3)."; exit 1; }
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	@$(VENV)/bin/syncscope $(ARGS) || { rc=$$?; [ $$rc -ne 2 ] || \
	  echo "  With make:               make run ARGS='--offscreen --screenshot out.png'   or   xvfb-run make run"; \
	  exit $$rc; }

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/python -m pytest -q -p no:cacheprovider

# The slow tier (not part of `make test`): soaks and long fuzz runs, marked `slow`.
slow: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/python -m pytest -q -p no:cacheprovider -m slow -s

# The partition soak alone; SOAK_SECONDS (default 600) sets its length, e.g. `make soak SOAK_SECONDS=60`.
soak: $(STAMP)
	QT_QPA_PLATFORM=offscreen SOAK_SECONDS=$(or $(SOAK_SECONDS),600) $(VENV)/bin/python -m pytest -q \
	  -p no:cacheprovider -m slow -s tests/soak/test_partition_soak.py

demo: $(STAMP)
	$(VENV)/bin/syncscope demo --headless --seconds 5

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
