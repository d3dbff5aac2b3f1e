# One place for every check: `make test` is what CI runs (.ci/run) and what the README says.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup chromium demo lint test check fuzz benchmark clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

setup: $(STAMP)

# The browser tests drive Debian's chromium (never a browser that Playwright downloads).
chromium:
	command -v chromium >/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

# The dashboard on the default model: http://127.0.0.1:8000
demo: setup
	$(BIN)/lantern serve

lint: setup
	$(BIN)/ruff check app tests benchmarks
	$(BIN)/ruff format --check app tests benchmarks
	$(BIN)/mypy
	$(BIN)/hadolint docker/Dockerfile
# The front end: Debian's nodejs parses the ES modules and checks their imports (no npm).
	command -v node >/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs)
	node tests/js/lint.mjs static/js

test: lint chromium
	$(BIN)/pytest -m ""

check: test

# Every API operation, 1,000 generated requests each; the status counts go to test-artifacts/fuzz.json.
fuzz: setup
	LANTERN_FUZZ_EXAMPLES=1000 $(BIN)/pytest -m "" tests/api/test_fuzz.py

benchmark: setup
	$(BIN)/python benchmarks/methods.py
	$(BIN)/python benchmarks/speed.py
	$(BIN)/python benchmarks/engines.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
