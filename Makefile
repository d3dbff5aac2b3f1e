# One place for every check: `make test` is what CI runs (.ci/run) and what the README says.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: setup demo lint test check benchmark clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

setup: $(STAMP)

# Until the web dashboard lands: explain the sample cat photo on the default model.
demo: setup
	$(BIN)/lantern explain sample:chelsea --method grad_cam --png chelsea-grad-cam.png --out chelsea-grad-cam.npz
	$(BIN)/lantern attack sample:chelsea --method fgsm --epsilon 0.03 --png chelsea-fgsm.png --out chelsea-fgsm.npz

lint: setup
	$(BIN)/ruff check app tests benchmarks
	$(BIN)/ruff format --check app tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

check: test

benchmark: setup
	$(BIN)/python benchmarks/methods.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
