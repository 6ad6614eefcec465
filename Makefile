# Samverkan — the two commands a newcomer needs are `make dev` and `make test`.
# Both set the project up first (a virtual environment in .venv from requirements.lock).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test lint typecheck unit e2e faults bench lock clean setup browser

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python >= 3.11 is needed (found $$($(PYTHON) --version))"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing pinned dependencies into $(VENV) …"
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

dev: $(STAMP)
	@$(BIN)/samverkan dev

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# The board's browser test (tests/board/test_board_browser.py) drives Debian's chromium
# through Playwright (pinned in requirements.lock); nothing is downloaded at test time.
browser:
	@command -v chromium >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; }

unit: $(STAMP) browser
	$(BIN)/pytest -q

test: lint typecheck unit

faults: $(STAMP)
	$(BIN)/pytest -q -m faults -p no:randomly

bench: $(STAMP)
	$(BIN)/python -m bench

# Regenerate requirements.lock after changing pyproject.toml dependencies.
lock:
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --no-header -o requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
