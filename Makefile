# The course's two entry points:  make lab  (set up, open your copy of the lessons)  and  make test.
# Everything is installed into .venv from constraints.txt, so a fresh machine needs only make and
# Python 3.11+ with its venv module (Debian/Ubuntu: the python3-venv package).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Optional: extra wheel index for torch, e.g. TORCH_INDEX=https://download.pytorch.org/whl/cpu
# for the CPU-only build on a Linux machine without a local wheel.
TORCH_INDEX ?=
PIP_EXTRA := $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX),)
# JupyterLab refuses to run as root unless told it is deliberate.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
PYTEST_ARGS ?=
# make fresh LESSON=02-pruning
LESSON ?=
RUN := PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python

.PHONY: setup system-packages work lab fresh test test-slow lessons validate clean

setup: $(VENV)/.installed

# The interpreter is checked before a venv is made from it: the pinned set needs 3.11+ (numpy,
# scipy and ipython say so in their Requires-Python), and Debian/Ubuntu leave venv's ensurepip out
# of python3 unless python3-venv is installed. A venv that failed half-way is removed.
$(VENV)/.installed: pyproject.toml constraints.txt
	@test -x $(BIN)/python || { \
	  $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11, 5))' 2>/dev/null || { \
	    echo "The course needs Python 3.11.5 or newer (what its pinned packages require); '$(PYTHON)' is $$($(PYTHON) --version 2>&1 || echo missing)."; \
	    echo "Run make with PYTHON=python3.11 (or newer)."; exit 1; }; \
	  $(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { \
	    v=$$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	    echo "'$(PYTHON)' (Python $$v) cannot create a virtual environment: its venv/ensurepip module is missing."; \
	    echo "On Debian/Ubuntu install the python3-venv package (for this Python: python$$v-venv):"; \
	    echo "  sudo apt-get install python3-venv"; exit 1; }; \
	  $(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(PIP_EXTRA) -c constraints.txt -e ".[test,postgresql]"
	touch $@

# Chromium (the browser test) and bubblewrap (the grading sandbox), each on its own; see the script.
system-packages:
	@sh scripts/system-packages.sh

# The learner's own copy of the lessons (git-ignored): lessons missing from work/ are copied in,
# nothing there is ever overwritten.
work: setup
	$(RUN) -m autograder workcopy

lab: work
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jupyter lab --notebook-dir=work $(ROOT_FLAG)

# A clean copy of one lesson in work/; your copy is renamed aside (…before-<date-time>.ipynb).
fresh: setup
	@test -n "$(LESSON)" || { echo "Say which lesson: make fresh LESSON=02-pruning"; exit 2; }
	$(RUN) -m autograder fresh $(LESSON)

# Everything not marked slow (CI's first step, under 15 minutes); test-slow runs the rest
# (the lessons executed end to end, grading, the browser, every mutant and alternative).
test: setup system-packages
	$(RUN) -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: setup system-packages
	$(RUN) -m pytest -m slow -n 2 --dist loadfile $(PYTEST_ARGS)

lessons: setup
	$(RUN) -m autograder build

validate: setup
	$(RUN) -m autograder validate

clean:
	rm -rf $(VENV) .pytest_cache
