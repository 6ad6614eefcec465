"""The ``samverkan`` command line: one typer app composed of each area's commands.

Every subcommand has ``--help``. Errors an operator can cause (bad input, a stack that is
not running) end in one clear sentence and a non-zero exit, never a traceback.

Start-up is kept short: `main` imports only the module of the command it runs
(`COMMANDS`), and ``samverkan --help`` lists the commands from that table without importing
any of them (Temporal's SDK, asyncpg and the domain models take seconds to import on a
loaded machine). `app` is the whole app, built on first use (tests, completion).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    app: typer.Typer

HELP = "Samverkan: inter-agency case workflows on Temporal and PostgreSQL."

#: Each command: the module under `samverkan.commands` that registers it, and its one-line
#: help as ``samverkan --help`` lists it (tests/shell/test_cli_fast.py keeps them the same).
COMMANDS: dict[str, tuple[str, str]] = {
    "dev": (
        "runtime",
        "Run the whole stack on the embedded default: Temporal + Web UI, PostgreSQL, "
        "simulator, worker.",
    ),
    "dev-token": (
        "runtime",
        "Print an operator's access token for a dev stack started with --auth.",
    ),
    "worker": (
        "runtime",
        "Run a worker on task queue samverkan-cases (settings from the environment).",
    ),
    "replay": ("replay", "Replay histories and print OK or the first divergence for each."),
    "deadline": ("deadline", "When is this due? Prints the deadline as JSON."),
    "migrate": ("eventstore", "Apply the event store's SQL migrations (harmless to re-run)."),
    "verify": (
        "eventstore",
        "Fold the case from PostgreSQL and compare it with the running workflow's summary.",
    ),
    "simulator": (
        "simulator",
        "Serve simulated agency systems and the notification endpoint over HTTP.",
    ),
    "gateway": (
        "gateway",
        "Serve the agency API (/v1) and, on its own port, the codec endpoint (/codec) until "
        "Ctrl-C.",
    ),
    "board": (
        "board",
        "Serve the coordinator board (one page per municipality) until Ctrl-C.",
    ),
    "report": (
        "board",
        "Write the compliance report as one self-contained HTML file.",
    ),
    "frontdoor": (
        "frontdoor",
        "Serve the dev Temporal server behind Temporal's default authorizer (JWT "
        "permissions per namespace) until Ctrl-C. Dev only.",
    ),
    "projections": ("eventstore", "Read models in PostgreSQL: status, rebuild, run."),
    "agency": ("gateway", "Agency API keys for the gateway."),
    "keys": ("gateway", "Data keys: shredding and master-key rotation."),
    "cases": ("cases", "Open and follow cases (operator shortcuts)."),
    "demo": ("demo", "Demo data for a dev stack (fictitious cases)."),
}
_ORDER = (
    "runtime",
    "replay",
    "deadline",
    "eventstore",
    "simulator",
    "gateway",
    "cases",
    "board",
    "demo",
    "frontdoor",
)


def _new_app() -> typer.Typer:
    new = typer.Typer(
        name="samverkan",
        help=HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    # A callback keeps an app of one command a group: `samverkan replay FILE`, not `FILE`.
    new.callback()(_root)
    return new


def _root() -> None:
    pass


def build_app(modules: tuple[str, ...] = _ORDER) -> typer.Typer:
    """The app with the commands of ``modules`` (every command by default)."""
    built = _new_app()
    for module in modules:
        importlib.import_module(f"samverkan.commands.{module}").register(built)
    return built


def listing_app() -> typer.Typer:
    """An app that lists every command for ``--help`` without importing any of them."""
    listing = _new_app()
    for name, (_, summary) in COMMANDS.items():
        listing.command(name, help=summary, add_help_option=False)(_not_loaded)
    return listing


def _not_loaded() -> None:  # pragma: no cover - main() loads a command before running it
    raise typer.Exit(2)


def __getattr__(name: str) -> Any:
    if name == "app":
        built = build_app()
        globals()["app"] = built
        return built
    raise AttributeError(name)


#: Commands that start parts of a stack take their settings from their own environment;
#: ``deadline`` computes from the calendar alone (and must start fast).
_STACK_COMMANDS = {"dev", "deadline"}
#: Operator commands that use a running stack's Temporal, database or keys.
_STACK_USERS = {
    "replay",
    "migrate",
    "verify",
    "projections",
    "agency",
    "keys",
    "cases",
    "board",
    "report",
}


def main() -> None:
    """Entry point of the ``samverkan`` script.

    Outside ``samverkan dev`` itself, unset connection settings default to the local dev
    stack's (see `samverkan.operator_env`), so commands in a second shell reach it.
    """
    import os
    import sys

    def apply_dev_stack_defaults() -> bool:
        from samverkan.operator_env import apply_dev_stack_defaults as apply

        return apply()

    command = sys.argv[1] if len(sys.argv) > 1 else ""
    asks_help = not command or bool({"--help", "-h"} & set(sys.argv[1:]))
    found = command in _STACK_COMMANDS or asks_help or apply_dev_stack_defaults()
    chosen = build_app((COMMANDS[command][0],)) if command in COMMANDS else listing_app()
    try:
        chosen()
    except SystemExit as exit_:
        configured = found or bool(os.environ.get("DATABASE_URL"))
        offline = command == "cases" and sys.argv[2:3] == ["example"]  # needs no stack
        if (
            exit_.code not in (0, None)
            and not configured
            and command in _STACK_USERS
            and not offline
        ):
            print(no_dev_stack_hint(), file=sys.stderr)
        if command in _TEMPORAL_CLIENT_COMMANDS and not asks_help:
            _exit_now(exit_.code)
        raise


#: Short commands that open a Temporal client. The SDK's runtime thread can still call into
#: Python while the interpreter finalises, which aborts the process (SIGABRT, "PyGILState_
#: Release ... must be current") after the command has done its work: seen once in a test
#: run of `samverkan cases open`. These commands leave without finalising instead.
_TEMPORAL_CLIENT_COMMANDS = {"cases", "verify", "replay", "demo"}


def _exit_now(code: object) -> None:
    """Flush and end the process with ``code`` (as `sys.exit` reads it), skipping
    interpreter finalisation."""
    import os
    import sys

    status = 0 if code is None else code if isinstance(code, int) else 1
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def no_dev_stack_hint() -> str:
    """The sentence added to a failed operator command when no dev stack was found."""
    import os

    folder = os.environ.get("SAMVERKAN_DATA_DIR", ".samverkan")
    return (
        f"No running dev stack found ({folder}/endpoints.json is missing): start it with "
        "`make dev`, or, if it runs with another data folder, set SAMVERKAN_DATA_DIR to that "
        "folder (or set DATABASE_URL, TEMPORAL_ADDRESS and SAMVERKAN_MASTER_KEYS yourself)."
    )


if __name__ == "__main__":
    main()
