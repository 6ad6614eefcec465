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


def main() -> None:
    """Entry point of the ``samverkan`` script."""
    app()
