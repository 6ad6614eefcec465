"""The ``samverkan`` command line: one typer app composed of each area's commands.

Every subcommand has ``--help``. Errors an operator can cause (bad input, a stack that is
not running) end in one clear sentence and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import typer

from samverkan.commands import cases as cases_commands
from samverkan.commands import deadline, eventstore, gateway, replay, runtime, simulator

app = typer.Typer(
    name="samverkan",
    help="Samverkan: inter-agency case workflows on Temporal and PostgreSQL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

runtime.register(app)
replay.register(app)
deadline.register(app)
eventstore.register(app)
simulator.register(app)
gateway.register(app)
cases_commands.register(app)


#: Commands that start parts of a stack take their settings from their own environment.
_STACK_COMMANDS = {"dev"}
#: Operator commands that use a running stack's Temporal, database or keys.
_STACK_USERS = {"replay", "migrate", "verify", "projections", "agency", "keys", "cases"}


def main() -> None:
    """Entry point of the ``samverkan`` script.

    Outside ``samverkan dev`` itself, unset connection settings default to the local dev
    stack's (see `samverkan.operator_env`), so commands in a second shell reach it.
    """
    import os
    import sys

    from samverkan.operator_env import apply_dev_stack_defaults

    command = sys.argv[1] if len(sys.argv) > 1 else ""
    found = command in _STACK_COMMANDS or apply_dev_stack_defaults()
    try:
        app()
    except SystemExit as exit_:
        configured = found or bool(os.environ.get("DATABASE_URL"))
        if exit_.code not in (0, None) and not configured and command in _STACK_USERS:
            print(no_dev_stack_hint(), file=sys.stderr)
        raise


def no_dev_stack_hint() -> str:
    """The sentence added to a failed operator command when no dev stack was found."""
    import os

    folder = os.environ.get("SAMVERKAN_DATA_DIR", ".samverkan")
    return (
        f"No running dev stack found ({folder}/endpoints.json is missing): start it with "
        "`make dev`, or, if it runs with another data folder, set SAMVERKAN_DATA_DIR to that "
        "folder (or set DATABASE_URL, TEMPORAL_ADDRESS and SAMVERKAN_MASTER_KEYS yourself)."
    )
