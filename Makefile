# The README's two commands: `make run` (the app) and `make test` (lint, then the whole suite, as CI runs it).
# Both create the virtual environment from requirements.txt on first use. While developing,
# `make test-fast` runs the unit and app tests only (no browser, no training, no load or disk-full runs).
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)
PORT ?= 8501
# Both faces listen on this machine only; `make run HOST=0.0.0.0` serves the app to the network (it then
# asks for a sign-in before any write: see docs/api.md), `make serve API_HOST=...` needs API tokens.
HOST ?= 127.0.0.1
API_HOST ?= 127.0.0.1
API_PORT ?= 8080
WORKERS ?= 1

.PHONY: run serve test test-fast test-perturbed lint browser bench clean

# No file watcher: the app is for reading plates, and watching .venv overflows inotify.
run: $(STAMP)
	$(PY) -m streamlit run app.py --server.port $(PORT) --server.address $(HOST) --server.fileWatcherType none

# The HTTP API (Plate Recognizer- and OpenALPR-compatible): docs at http://$(API_HOST):$(API_PORT)/docs.
serve: $(STAMP)
	$(PY) -m alpr serve --host $(API_HOST) --port $(API_PORT) --workers $(WORKERS)

test: lint browser
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest tests/unit tests/app

# The tests that use the constant test model, with its probabilities moved by ~1e-6 (ALPR_PERTURB,
# tests/conftest.py) as another CPU's float kernels move them: every answer must stay the same.
PERTURB_SEEDS ?= 1 8
test-perturbed: $(STAMP)
	for seed in $(PERTURB_SEEDS); do \
		ALPR_PERTURB=$$seed $(PY) -m pytest -q $$(grep -l constant_ tests/unit/test_*.py tests/slow/test_api_server.py) || exit 1; \
	done

# Lint and format check (configured in pyproject.toml); `ruff format .` applies the format.
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $@

# The browser tests drive Debian's Chromium; install it when we may (root with apt), else they skip.
browser:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get install -y -q chromium >/dev/null || (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null); \
	fi

clean:
	rm -rf $(VENV) test-artifacts .pytest_cache
