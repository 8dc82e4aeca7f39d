# snnc: `make demo` (set up + main job) and `make test` (the suite). Both idempotent.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# A Python 3.10 (lava-nc 0.10 needs <3.11): python3.10 on PATH, else pyenv's newest 3.10.x.
# (A pyenv shim may exist on PATH yet fail, so each candidate must really run as 3.10.)
PYTHON310 ?= $(shell for p in $$(command -v python3.10) $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.10.*/bin/python 2>/dev/null | sort -Vr); do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && { echo $$p; break; }; done)

.PHONY: demo test test-hw bench clean

$(STAMP): pyproject.toml $(shell find snnc compiler backends runtime targets -name '*.py' 2>/dev/null)
	@if [ -z "$(PYTHON310)" ]; then echo "snnc needs Python 3.10 (lava-nc 0.10 requires <3.11): install it (e.g. pyenv install 3.10.13) or set PYTHON310=/path/to/python3.10" >&2; exit 2; fi
	@[ -x $(PY) ] || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

# Two worker processes, each test file whole in one (its module fixtures built once): the suite is
# mostly single-threaded XLA compilation and Python, so 2 CPUs finish it in about 2/3 of the time.
test: $(STAMP)
	$(VENV)/bin/pytest -q -rs -n 2 --dist loadfile tests

test-hw: $(STAMP)
	$(VENV)/bin/pytest -q -rs -m loihi tests

bench: $(STAMP)
	$(PY) benchmarks/simulator_speed.py

clean:
	rm -rf $(VENV) build *.egg-info
