# The two commands: `make run` (the nightly demo on sample_data/) and `make test`.
# Both need only Debian's python3: the virtual environment is made on first use and reused.

VENV ?= .venv
PY := $(VENV)/bin/python
CALLQA := $(VENV)/bin/callqa
OUT ?= out
DEMO_DATE ?= 2025-03-31
DEMO_MONTH ?= 2025-03
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 120
export DO_NOT_TRACK ?= 1
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

.PHONY: run test bench eval lint format clean sample-data

$(PY):
	python3 -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(CALLQA) nightly --calls sample_data/calls.csv --recordings sample_data/recordings \
		--out $(OUT) --date $(DEMO_DATE)
	$(CALLQA) report --out $(OUT) --month $(DEMO_MONTH)

test: $(VENV)/.installed-dev
	$(VENV)/bin/pytest

bench: $(VENV)/.installed-dev
	$(PY) benchmarks/asr.py
	$(PY) benchmarks/sampling.py
	$(PY) benchmarks/tagging.py
	$(PY) benchmarks/nightly.py
	$(PY) benchmarks/review.py
	$(PY) benchmarks/search.py
	$(PY) benchmarks/hardening.py

# Re-render sample_data/ (recordings, turn times, call log) from its scripts with Piper.
sample-data: $(VENV)/.installed-dev
	$(CALLQA) sample-data

eval: $(VENV)/.installed-dev
	$(PY) eval/score.py --reliability

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(OUT)
