# make demo | make web | make test | make bench | make lint: each creates .venv when it is missing.
# .venv holds the mcp 2.x stack (langchain[mcp]: FastMCP 4, mcp 2.3, httpx2), where LangChain users
# are moving. make test-mcp1 | make lint-mcp1 run the same on the mcp 1.x stack (mcp 1.x with
# langchain-mcp-adapters) in .venv-mcp1. The two stacks cannot share one environment.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VENV1 := .venv-mcp1
BIN1 := $(VENV1)/bin
PIP_FLAGS := --quiet --disable-pip-version-check

.PHONY: demo web test bench lint test-mcp1 lint-mcp1 test-all

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_FLAGS) -e '.[test,lint,langchain-mcp,web,browser,server]'
	touch $@

$(VENV1)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV1)
	$(BIN1)/pip install $(PIP_FLAGS) -e '.[test,lint,adapters,web,browser,server]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/scalekit-langchain demo

# The chat app of examples/web_app, offline (a local emulator, a scripted model) unless the
# SCALEKIT_* variables are set; open http://127.0.0.1:8000/?user=ana
web: $(VENV)/.installed
	$(BIN)/python examples/web_app/app.py

test: $(VENV)/.installed
	$(BIN)/pytest

# The benchmarks measure against langchain-mcp-adapters, which lives on the mcp 1.x stack.
bench: $(VENV1)/.installed $(VENV)/.installed  # the mcp 2 rows run in .venv (a worker)
	$(BIN1)/python -m benchmarks

lint: $(VENV)/.installed
	$(BIN)/ruff check scalekit_langchain && $(BIN)/mypy

test-mcp1: $(VENV1)/.installed
	$(BIN1)/pytest

lint-mcp1: $(VENV1)/.installed
	$(BIN1)/ruff check scalekit_langchain && $(BIN1)/mypy

test-all: test test-mcp1
