# Samverkan — the two commands a newcomer needs are `make dev` and `make test`.
# Both set the project up first (a virtual environment in .venv from requirements.lock).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test lint typecheck unit faults bench lock clean setup browser mutants

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

# Mutation testing (docs/testing.md): mutmut mutates the deadline and decision rules in cases/
# and the event store's append path ([tool.mutmut] in pyproject.toml) and runs their tests
# against each mutant, two at a time, on one PostgreSQL for the whole run (DATABASE_URL if set,
# else an embedded one). Prints the score per module and every surviving mutant, and fails
# when one survives that docs/testing.md does not name. Never part of `make test`.
mutants: $(STAMP)
	rm -rf mutants
	$(BIN)/python -c "$$MUTANTS_RUN" $(BIN)/mutmut

define MUTANTS_RUN
import collections, json, os, pathlib, re, subprocess, sys, tempfile, time
from mutmut.stats import status_by_exit_code

env = dict(os.environ)
server = None
if not env.get("DATABASE_URL"):
    import pgserver
    folder = pathlib.Path(tempfile.mkdtemp(prefix="samverkan-mutants-pg-"))
    server = pgserver.get_server(folder, cleanup_mode="delete")
    env["DATABASE_URL"] = server.get_uri()
began = time.monotonic()
try:
    run = subprocess.run([sys.argv[1], "run", "--max-children", "2"], env=env)
finally:
    if server is not None:
        server.cleanup()
minutes = (time.monotonic() - began) / 60
doc = pathlib.Path("docs/testing.md")
documented = set(re.findall(r"[\w.]+__mutmut_\d+", doc.read_text(encoding="utf-8") if doc.exists() else ""))
print()
print(f"{'module':32} {'mutants':>7} {'killed':>6} {'timeout':>7} {'survived':>8} {'no tests':>8} {'score':>6}")
survivors = []
totals = collections.Counter()
for meta in sorted(pathlib.Path("mutants").glob("**/*.py.meta")):
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    count = collections.Counter(status_by_exit_code[code] for code in codes.values())
    count["mutants"] = len(codes)
    totals.update(count)
    survivors += sorted((name, status_by_exit_code[code]) for name, code in codes.items() if status_by_exit_code[code] not in ("killed", "timeout"))
    score = 100 * (count["killed"] + count["timeout"]) / max(1, len(codes) - count["skipped"])
    module = str(meta.relative_to("mutants")).removesuffix(".meta")
    print(f"{module:32} {len(codes):7} {count['killed']:6} {count['timeout']:7} {count['survived']:8} {count['no tests']:8} {score:5.1f}%")
score = 100 * (totals["killed"] + totals["timeout"]) / max(1, totals["mutants"] - totals["skipped"])
print(f"{'total':32} {totals['mutants']:7} {totals['killed']:6} {totals['timeout']:7} {totals['survived']:8} {totals['no tests']:8} {score:5.1f}%")
print(f"mutmut took {minutes:.1f} min")
undocumented = [name for name, _ in survivors if name not in documented]
for name, status in survivors:
    print(f"  {status:9} {'NOT IN docs/testing.md' if name in undocumented else 'explained':22} {name}")
if undocumented:
    print(f"{len(undocumented)} surviving mutants are not explained in docs/testing.md: kill them with a test, or explain them there (mutmut show <name>)")
sys.exit(run.returncode or (1 if undocumented else 0))
endef
export MUTANTS_RUN

# Regenerate requirements.lock after changing pyproject.toml dependencies.
lock:
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --no-header -o requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
