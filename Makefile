# mlgcn — two commands do all set-up: `make book` and `make test`. Both create .venv when missing.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha1sum | cut -c1-12)
PARAMS ?=
PROFILE ?= default
DATA_ROOT ?=
CHAPTERS ?=
PYTEST_ARGS ?=
# pip's machine-wide config may list file:// indexes that do not exist; keep the log readable
QUIET_PIP := sed "/^WARNING: Location '/d"

.PHONY: book test test-ray test-fast lint lab data chromium venv bench gpu-check sweeps clean help lock publish
.DEFAULT_GOAL := help

help:
	@echo "make book   - execute the notebooks (papermill) and build the HTML book into _build/html"
	@echo "              PROFILE=paper_voc DATA_ROOT=DIR: the same notebooks on prepared VOC (or paper_coco)"
	@echo "make test   - run every test (unit, reference, notebook smoke, book smoke)"
	@echo "make test-fast - unit + reference tests only (no notebooks, DDP, browser or slow runs): the edit loop"
	@echo "make lint   - ruff check (also run by make test, tests/test_packaging.py)"
	@echo "make lab    - start JupyterLab on notebooks/ with the project's kernel"
	@echo "make lock   - re-resolve requirements.lock (universal: Linux x86_64 / aarch64, macOS arm64)"
	@echo "make publish - the built book onto gh-pages, pushed (PUSH=0: commit only, a dry run)"
	@echo "make bench  - run the benchmarks in benchmarks/"
	@echo "make gpu-check - on a CUDA machine (<= 8 min): paper-setting speed, bf16, MFU, input pipeline, DDP"
	@echo "make data   - obtain Fashion-MNIST (Debian package when root, else checksummed download)"
	@echo "make sweeps - run the ablation sweeps of notebooks/sweeps/ (also run by the book's chapters)"

venv: $(STAMP)
$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# uv (pinned in the lock) installs and byte-compiles the lock in ~90 s where pip took ~240 s here;
	# pip if uv fails. --compile-bytecode: with PYTHONDONTWRITEBYTECODE=1 (as here) nothing else writes
	# .pyc, and every kernel's imports took 2-3x longer (make test: 1,806 s instead of ~1,165 s)
	$(PY) -m pip install --quiet --disable-pip-version-check "$$(grep '^uv==' requirements.lock)" 2>&1 | $(QUIET_PIP)
	$(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) -r requirements.lock || \
	  $(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock 2>&1 | $(QUIET_PIP)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e . 2>&1 | $(QUIET_PIP)
	$(PY) -m ipykernel install --sys-prefix --name mlgcn --display-name "Python (mlgcn)"
	rm -f $(VENV)/.installed-*
	touch $@

# requirements.lock from pyproject.toml: one universal lock (platform markers: CUDA wheels on Linux
# only), the versions already in it kept unless pyproject needs others (tests/test_packaging.py
# resolves it for Linux x86_64, Linux aarch64 and macOS arm64)
lock: $(STAMP)
	$(VENV)/bin/uv pip compile --quiet --universal --python-version 3.11.5 --all-extras --no-annotate \
	  --custom-compile-command "make lock" pyproject.toml -o requirements.lock

# Fashion-MNIST: a verified local copy, else Debian's dataset-fashion-mnist (as root), else download.
data: $(STAMP)
	@$(PY) -m mlgcn_core data --check >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
	    { apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null; } || true; \
	  fi; }
	@$(PY) -m mlgcn_core data

book: data
	$(PY) -m mlgcn_core.book --profile '$(PROFILE)' $(if $(DATA_ROOT),--data-root '$(DATA_ROOT)') \
	  $(if $(CHAPTERS),--chapters $(CHAPTERS)) $(foreach p,$(PARAMS),-p '$(p)')

# Chromium for the browser test: Debian's package when root and missing, else it must be installed.
chromium:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get install -y -qq chromium >/dev/null 2>&1 || \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; \
	  else echo "note: Chromium not found; the browser test will fail (apt-get install chromium)"; fi; }

test: data chromium
	$(PY) -m pytest $(PYTEST_ARGS)

test-ray: data
	$(PY) -m pytest -m ray tests/test_ray.py -s $(PYTEST_ARGS)

FAST_MARKERS := not notebook and not distributed and not browser and not slow and not ray
test-fast: data
	$(PY) -m pytest -q -m "$(FAST_MARKERS)" $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root,)

bench: $(STAMP)
	$(PY) benchmarks/metrics_speed.py
	$(PY) benchmarks/train_step.py
	$(PY) benchmarks/head_step.py
	$(PY) benchmarks/grad_floor.py
	$(PY) benchmarks/stage_overhead.py
	$(PY) benchmarks/successor_heads.py
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/kernel_starts.py
	$(PY) benchmarks/parallel_runs.py
	$(PY) benchmarks/point_overhead.py
	$(PY) benchmarks/top_finetune.py
	$(PY) benchmarks/input_pipeline.py
	$(PY) benchmarks/sweep_executors.py
	$(PY) benchmarks/feature_extraction.py
	$(PY) benchmarks/coco_shaped.py

# One table on a CUDA machine (one line and exit 0 without CUDA); see benchmarks/gpu_check.py.
# PY=python3 runs it with an interpreter that already holds PyTorch (a CUDA image), without .venv.
gpu-check: $(if $(filter $(VENV)/bin/python,$(PY)),$(STAMP))
	PYTHONPATH=$(CURDIR) $(PY) benchmarks/gpu_check.py

# The built book onto the gh-pages branch (ghp-import; -n: .nojekyll) and pushed to origin;
# PUSH=0 commits the branch here without pushing (a dry run). CI publishes through
# .github/workflows/book.yml instead.
PUSH ?= 1
publish: book
	$(VENV)/bin/ghp-import -n -m "The book at $$(git rev-parse --short HEAD)" $(if $(filter 1,$(PUSH)),-p) _build/html
	@git log -1 --format="gh-pages: %h %s" gh-pages

sweeps: data
	for f in notebooks/sweeps/*.yaml; do $(PY) -m mlgcn_core sweep $$f --jobs 2; done

clean:
	rm -rf _build book/executed .cache runs
