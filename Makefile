# Two entry points: `make publish` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: publish test quick lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

# An editable install leaves src/ uncompiled, and where PYTHONDONTWRITEBYTECODE is set
# every run compiles seedfeed again (tens of ms); compileall writes what is stale.
publish: $(VENV)/.installed
	$(BIN)/python -m compileall -q src
	$(BIN)/seedfeed publish -c config.toml

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: lint  # compiled first: the tests start many seedfeed processes (see publish)
	$(BIN)/python -m compileall -q src
	$(BIN)/python -m pytest -q

quick: $(VENV)/.installed-test  # the tests that start no subprocess: under 30 s
	SEEDFEED_QUICK=1 $(BIN)/python -m pytest -q -m "not slow"

bench: $(VENV)/.installed
	$(BIN)/python -m compileall -q src
	$(BIN)/python bench/bench_publish.py

clean:
	rm -rf $(VENV) .seedfeed feeds/*.xml feeds/*.json
