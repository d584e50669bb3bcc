# plantwin: `make demo` plans the bundled demo network, `make test` runs the tests.
# Both set everything up on a fresh machine with Python 3.11: uv (installed with pip if missing)
# creates .venv from the committed uv.lock. Nothing is downloaded at run time.

SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
VENV := .venv
BIN := $(VENV)/bin

export DO_NOT_TRACK := 1
export GX_ANALYTICS_ENABLED := false
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 90
export UV_PYTHON := $(shell command -v $(PYTHON))

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed

# --compile-bytecode: the packages' .pyc files are written once here, so no command compiles the stack's
# sources again (where PYTHONDONTWRITEBYTECODE is set, Python would do that in every process: seconds each).
$(VENV)/.installed: pyproject.toml uv.lock Makefile
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 \
		|| $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --compile-bytecode
	@touch $@

demo: setup
	$(BIN)/plantwin demo

test: setup
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

clean:
	rm -rf plantwin-demo .pytest_cache .hypothesis
