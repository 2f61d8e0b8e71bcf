# Two commands for the course (see README):
#   make lab    set everything up in .venv and start JupyterLab on notebooks/
#               (make lab HEADLESS=1: run every notebook without a browser instead)
#   make test   set everything up in .venv and run the whole test suite
#               (unit tests, notebooks under nbval in quick mode, browser check)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PORT   ?= 8888

.PHONY: lab test setup notebooks clean-venv

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

clean-venv:
	rm -rf $(VENV)
