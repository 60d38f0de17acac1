# openmxu: thin wrappers around the Python tools. Every target sets up .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
JOBS ?= 2

.PHONY: all demo test test-fast verilog lint bench formal bitstream clean distclean

all: test

# The virtual environment is (re)installed only when pyproject.toml or constraints.txt
# changes, with the exact package set of constraints.txt.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[sim,boards,formal]"
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) -m openmxu run --m 128 --k 128 --n 128

test: $(STAMP)
	$(PY) -m pytest -n $(JOBS) --dist loadgroup tests

test-fast: $(STAMP)
	$(PY) -m pytest -n $(JOBS) --dist loadgroup -m "not slow" tests

verilog: $(STAMP)
	$(PY) -m openmxu verilog
	$(PY) -m openmxu verilog --top array

lint: verilog
	$(PY) -m openmxu lint build/verilog/openmxu.v
	$(PY) -m openmxu lint build/verilog/openmxu_array.v

bench: $(STAMP)
	$(PY) -m openmxu bench

# SymbiYosys proofs (yowasp-sby with yices/z3 from PyPI); prints a table, fails on any failure.
formal: $(STAMP)
	$(PY) -m openmxu formal

# A board's bitstream and build/boards/$(BOARD)/report.json (yowasp yosys/nextpnr from PyPI);
# MEMORY=sdram builds the ULX3S on its SDRAM instead (build/boards/$(BOARD)-sdram).
BOARD ?= ulx3s-85f
MEMORY ?=
bitstream: $(STAMP)
	$(PY) -m openmxu bitstream --board $(BOARD) $(if $(MEMORY),--memory $(MEMORY))

clean:
	rm -rf build

distclean: clean
	rm -rf $(VENV) *.egg-info
