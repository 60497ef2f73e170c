# Two commands: `make book` builds the book, `make test` runs every test. Both set up .venv first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV)/bin)
STAMP := $(VENV)/.installed
export PATH := $(BIN):$(PATH)
export TF_CPP_MIN_LOG_LEVEL := 3
export PYTHONHASHSEED := 0
# One notebook runs at a time and may use both cores (OpenMP threads for NumPy and TensorFlow kernels).
export OMP_NUM_THREADS ?= 2

.PHONY: help venv book test unit bench second-draw grade grade-class gradescope exercises sync front-page lab lint clean clean-cache nbval dist learner pdf

help:
	@echo "make book       set up .venv (first time) and build the HTML book into _build/html"
	@echo "make test       set up .venv and run every test (book build included)"
	@echo "make lab        open the notebooks in JupyterLab"
	@echo "make grade      grade your exercise notebooks (EX=ex1_numpy_layers for one, SEED=n to repeat a run, TIMEOUT=s per cell or check)"
	@echo "make grade-class SUBMISSIONS=<folder or LMS zip> EX=ex1   grade a class into grades/<exercise>/ (OUT=, SEED=, WORKERS=)"
	@echo "make gradescope EX=ex1   build the Gradescope autograder zip into _build/gradescope/"
	@echo "make exercises  regenerate exercises/ and the grading manifest from solutions/"
	@echo "make sync       regenerate the package modules from the chapters' #@save cells"
	@echo "make front-page rewrite the front page's short answer from the verdict chapter"
	@echo "make bench      per-notebook and build times, NumPy speed ratios, and each layout's training step against the matmul roofline"
	@echo "make second-draw the experiment chapters on a fresh draw of seeds (OFFSET=1000): which verdicts stop on an assert"
	@echo "make lint       ruff over the package, tools, tests and notebooks"
	@echo "make pdf        a PDF of the whole book (after make book), into _build/html/flatgap-book.pdf"
	@echo "make dist       build the package's sdist and wheel into _build/dist"
	@echo "make learner    the learner's path: a clean environment from the learner pins and the wheel (online)"
	@echo "make colab-like the wheel installed with its dependencies over a Colab-like stack, chapters run there (online)"
	@echo "make fork REPO=OWNER/NAME   point the book, its launch buttons and its set-up cells at your own repository"

venv: $(STAMP)

# requirements.txt includes requirements/learner.txt (the learner's pins): a change in either reinstalls.
$(STAMP): requirements.txt requirements/learner.txt pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 11) <= v <= (3, 13) else f"Python 3.11-3.13 is needed (TensorFlow has no wheel for others), found {sys.version.split()[0]}: make ... PYTHON=python3.13")'
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -r requirements.txt
	$(VENV)/bin/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

book: $(STAMP)
	$(VENV)/bin/python tools/build_book.py

test: book
	$(VENV)/bin/python -m pytest

unit: $(STAMP)
	$(VENV)/bin/python -m pytest -m "not browser and not notebooks and not book"

nbval: $(STAMP)
	$(VENV)/bin/python -m pytest --nbval-lax --nbval-current-env -p no:randomly chapters/

bench: $(STAMP)
	-$(VENV)/bin/python tools/book_times.py
	$(VENV)/bin/python tools/bench_steps.py
	$(VENV)/bin/python tools/run_profile.py

# Every verdict must hold for any fair draw of seeds: the experiment chapters re-run with FLATGAP_SEED_OFFSET.
second-draw: $(STAMP)
	$(VENV)/bin/python tools/second_draw.py --offset $(or $(OFFSET),1000) $(CHAPTERS)

grade: $(STAMP)
	$(VENV)/bin/python -m flatgap.grading.cli $(if $(EX),exercises/$(EX).ipynb,exercises/*.ipynb) $(if $(SEED),--seed $(SEED)) $(if $(TIMEOUT),--timeout $(TIMEOUT))

# A class: every notebook of a folder or an LMS's zip, into a gradebook CSV, feedback per student and a summary.
grade-class: $(STAMP)
	@test -n "$(SUBMISSIONS)" -a -n "$(EX)" || { echo "usage: make grade-class SUBMISSIONS=<folder or zip> EX=ex1 [OUT=folder] [SEED=n] [WORKERS=n]"; exit 2; }
	$(VENV)/bin/python -m flatgap.grading.cli class "$(SUBMISSIONS)" --exercise $(EX) $(if $(OUT),--out "$(OUT)") $(if $(SEED),--seed $(SEED)) $(if $(WORKERS),--workers $(WORKERS))

# The Gradescope autograder of one exercise (python -m build makes the wheel it installs: online, like make dist).
gradescope: $(STAMP)
	@test -n "$(EX)" || { echo "usage: make gradescope EX=ex1"; exit 2; }
	$(VENV)/bin/python -m flatgap.grading.gradescope build --exercise $(EX)

exercises: $(STAMP)
	$(VENV)/bin/python -m flatgap.grading.generate

sync: $(STAMP)
	$(VENV)/bin/python tools/sync_saved.py --write

# The front page's short answer, copied from the verdict chapter (tools/front_page.py).
front-page: $(STAMP)
	$(VENV)/bin/python tools/front_page.py --write

lab: $(STAMP)
	$(VENV)/bin/jupyter lab

lint: $(STAMP)
	$(VENV)/bin/ruff check flatgap tools tests chapters solutions

pdf: book
	$(VENV)/bin/python tools/build_book.py --pdf

dist: $(STAMP)
	rm -rf _build/dist
	$(VENV)/bin/python -m build --outdir _build/dist .

learner: dist
	bash .ci/learner_path

clean:
	rm -rf _build/html _build/jupyter_execute

clean-cache:
	rm -rf _build

# --- Colab, releases and forks (tools/repository.py: the one setting in _config.yml and what derives from it) ---
.PHONY: colab-like fork release-sync

colab-like: dist
	bash .ci/colab_like

fork: $(STAMP)
	@test -n "$(REPO)" || { echo "usage: make fork REPO=OWNER/NAME (your GitHub repository)"; exit 2; }
	$(VENV)/bin/python tools/repository.py fork $(REPO)

release-sync: $(STAMP)
	$(VENV)/bin/python tools/repository.py sync
