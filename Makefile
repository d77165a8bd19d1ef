# One bootstrap for every target: a fresh clone needs nothing before `make validate` or `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SEED ?= 0
JOBS ?= 1

.PHONY: validate test lint bench baseline clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[all,dev]'
	touch $(STAMP)

# The test suite also runs --executor ray on a local head: Ray (about 240 MB) is installed for
# `make test` only, not for `make validate`.
RAY_STAMP := $(VENV)/.installed-ray
$(RAY_STAMP): $(STAMP)
	$(PY) -m pip install -q -c constraints.txt -e '.[ray]'
	touch $(RAY_STAMP)

BASELINE := reports/baseline/summary.csv

validate: $(STAMP)
	$(PY) -m harness validate --seed $(SEED) --jobs $(JOBS) --out reports $(if $(wildcard $(BASELINE)),--baseline $(BASELINE))

# Refresh the committed baseline from a full run (failing cells included: exit 1 is fine here).
baseline: $(STAMP)
	$(PY) -m harness validate --seed $(SEED) --out reports/baseline/run || [ $$? -eq 1 ]
	cp reports/baseline/run/summary.csv $(BASELINE)

test: $(STAMP) $(RAY_STAMP)
	$(PY) -m pytest -n 2 -q

lint: $(STAMP)
	$(PY) -m ruff check harness tests benchmarks examples
	$(PY) -m ruff format --check harness tests benchmarks examples
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) reports/*.csv reports/*.html reports/*.json
