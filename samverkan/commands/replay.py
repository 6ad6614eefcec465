"""``samverkan replay``: replay recorded histories against the current workflow code."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

#: Exit code when histories could not be decrypted (and none diverged).
CANNOT_DECRYPT = 3


def register(app: typer.Typer) -> None:
    """Add ``replay`` to ``app``."""

    @app.command()
    def replay(
        files: list[Path] = typer.Argument(  # noqa: B008 - typer's declaration style
            None,
            help="History JSON files (Web UI download or 'temporal workflow show --output json').",
        ),
        workflow_id: list[str] = typer.Option(  # noqa: B008
            [], "--workflow-id", "-w", help="Fetch this workflow's history from the server."
        ),
        query: str | None = typer.Option(
            None, "--query", "-q", help="Fetch every workflow matching this visibility query."
        ),
    ) -> None:
        """Replay histories and print OK or the first divergence for each.

        Exit 0 when all replay clean, 1 when any diverged, 3 when none diverged but some
        cannot be decrypted here (a missing master key or a shredded key: not replayed),
        2 for bad input or an unreachable server.
        """
        from samverkan import replay as replay_module

        async def run() -> list[replay_module.ReplayOutcome]:
            from infra.settings import get_settings
            from infra.temporal_client import connect
            from samverkan.operator_env import payload_codec

            histories = []
            for path in files or []:
                histories.append((str(path), replay_module.load_history_file(path)))
            settings = get_settings()
            async with payload_codec(settings) as codec:
                if workflow_id or query:
                    client = await connect(settings, codec=codec)
                    async for item in replay_module.fetch_histories(
                        client, workflow_ids=workflow_id, query=query
                    ):
                        histories.append(item)
                if not histories:
                    raise typer.BadParameter("give history files, --workflow-id or --query")
                return await replay_module.replay_histories(histories, codec=codec)

        try:
            outcomes = asyncio.run(run())
        except (OSError, ValueError) as exc:
            typer.echo(f"replay: {exc}", err=True)
            raise typer.Exit(2) from None
        except RuntimeError as exc:
            typer.echo(f"replay: cannot reach Temporal ({exc})", err=True)
            raise typer.Exit(2) from None
        for outcome in outcomes:
            if outcome.ok:
                typer.echo(f"OK    {outcome.workflow_id}  ({outcome.source})")
            else:
                label = "SKIP" if outcome.undecryptable else "FAIL"
                typer.echo(
                    f"{label}  {outcome.workflow_id}  ({outcome.source})\n      {outcome.error}"
                )
        diverged = sum(1 for o in outcomes if o.diverged)
        undecryptable = sum(1 for o in outcomes if o.undecryptable)
        clean = len(outcomes) - diverged - undecryptable
        summary = f"{clean} replayed clean, {diverged} diverged"
        if undecryptable:
            summary += f", {undecryptable} cannot be decrypted (not replayed)"
        typer.echo(summary)
        raise typer.Exit(1 if diverged else CANNOT_DECRYPT if undecryptable else 0)
