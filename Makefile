# The course's two entry points:  make lab  (set up, open the lessons)  and  make test  (set up, test).
# Everything is installed into .venv from constraints.txt, so a fresh machine needs only Python 3.10+.
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

.PHONY: setup system-packages lab test lessons validate clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(PIP_EXTRA) -c constraints.txt -e ".[test]"
	touch $@

# System packages the tests use, from Debian's archive: Chromium for tests/test_browser.py (Playwright's
# own browser downloads are never used) and bubblewrap, the sandbox the autograder runs student
# kernels in. Installed once, only what is missing, only as root with apt-get; elsewhere the browser
# test is skipped and grading runs without the sandbox, each saying why.
SYSTEM_PACKAGES := $(if $(wildcard /usr/bin/chromium),,chromium) $(if $(shell command -v bwrap),,bubblewrap)

system-packages:
	@if [ -n "$(strip $(SYSTEM_PACKAGES))" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing $(strip $(SYSTEM_PACKAGES)) (apt-get)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES)) \
	    || echo "Could not install $(strip $(SYSTEM_PACKAGES)): the tests that need them skip or fall back"; \
	fi

lab: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jupyter lab --notebook-dir=lessons $(ROOT_FLAG)

test: setup system-packages
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest $(PYTEST_ARGS)

lessons: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m autograder build

validate: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m autograder validate

clean:
	rm -rf $(VENV) .pytest_cache
