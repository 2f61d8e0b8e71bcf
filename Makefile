# Two commands for the course (see README):
#   make lab    set everything up in .venv and start JupyterLab on notebooks/
#               (make lab HEADLESS=1: run every notebook without a browser instead)
#   make test   set everything up in .venv and run the whole test suite
#               (unit tests, notebooks under nbval in quick mode, browser check)
#   make test-kernels   the unit tests again under two other CPUs' float kernels (CI runs it too)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PORT   ?= 8888

.PHONY: lab test test-kernels setup notebooks clean-venv

$(STAMP): requirements.txt pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@# no "get notified about Jupyter news?" popup: disabled in .venv (sys-prefix), not in $$HOME
	$(VENV)/bin/jupyter labextension disable --level=sys_prefix @jupyterlab/apputils-extension:announcements >/dev/null 2>&1
	touch $(STAMP)

setup: $(STAMP)

lab: $(STAMP)
ifeq ($(HEADLESS),1)
	$(PY) -m awake_tutorial.ui.notebook_runner notebooks artifacts/notebooks
else
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --port=$(PORT) $(if $(filter 0,$(shell id -u)),--allow-root,)
endif

test: $(STAMP)
	AWAKE_TUTORIAL_QUICK=1 $(PY) -m pytest -ra tests notebooks --nbval-lax --durations=15

# Float results differ in the last bits between CPUs, and CG, line searches, training and
# closed loops amplify that; the tests must hold on any CPU. Each variable below changed the
# bits on the development machine (README, development): an AVX2 machine (OpenBLAS Haswell
# kernels, MKL and torch at AVX2), and a generic one (no vector kernels in torch, OpenBLAS
# Prescott, MKL SSE4.2), a stand-in for CPUs the course never saw (e.g. an ARM laptop).
KERNELS_AVX2    := OPENBLAS_CORETYPE=Haswell MKL_ENABLE_INSTRUCTIONS=AVX2 ATEN_CPU_CAPABILITY=avx2
KERNELS_GENERIC := OPENBLAS_CORETYPE=Prescott MKL_ENABLE_INSTRUCTIONS=SSE4_2 ATEN_CPU_CAPABILITY=default

test-kernels: $(STAMP)
	env $(KERNELS_AVX2) AWAKE_TUTORIAL_QUICK=1 $(PY) -m pytest -q -ra tests -m "not browser" -p no:cacheprovider -n 2
	env $(KERNELS_GENERIC) AWAKE_TUTORIAL_QUICK=1 $(PY) -m pytest -q -ra tests -m "not browser" -p no:cacheprovider -n 2

clean-venv:
	rm -rf $(VENV)
