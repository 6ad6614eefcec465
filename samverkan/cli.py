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


def main() -> None:
    """Entry point of the ``samverkan`` script.

    Outside ``samverkan dev`` itself, unset connection settings default to the local dev
    stack's (see `samverkan.operator_env`), so commands in a second shell reach it.
    """
    import sys

    from samverkan.operator_env import apply_dev_stack_defaults

    if not set(sys.argv[1:2]) & _STACK_COMMANDS:
        apply_dev_stack_defaults()
    app()
