"""``samverkan agency …`` and ``samverkan keys …`` against a real database."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from infra.keys import MasterKeys
from infra.settings import get_settings
from samverkan.commands.gateway import register


@pytest.fixture
def cli(stack: object, database_url: str, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SAMVERKAN_MASTER_KEYS", MasterKeys.generate_entry("cli1"))
    get_settings.cache_clear()
    app = typer.Typer()
    register(app)
    yield app
    get_settings.cache_clear()


def test_agency_add_prints_a_key_once_list_shows_its_prefix_and_revoke_ends_it(
    cli: typer.Typer,
) -> None:
    runner = CliRunner()
    added = runner.invoke(cli, ["agency", "add", "sapo"])
    listed = runner.invoke(cli, ["agency", "list"])
    revoked = runner.invoke(cli, ["agency", "revoke", "sapo"])
    unknown = runner.invoke(cli, ["agency", "add", "fbi"])

    assert added.exit_code == 0, added.output
    key = added.stdout.strip().splitlines()[0]
    assert key.startswith("svk_sapo_")
    assert key not in listed.stdout and key[:15] in listed.stdout
    assert revoked.exit_code == 0 and "Revoked" in revoked.stdout
    assert unknown.exit_code == 2 and "Unknown agency" in unknown.output


def test_keys_shred_and_rotate_run_from_the_command_line(cli: typer.Typer) -> None:
    runner = CliRunner()
    shredded = runner.invoke(cli, ["keys", "shred", "2025-77", "--yes"])
    rotated = runner.invoke(cli, ["keys", "rotate"])
    entry = runner.invoke(cli, ["keys", "new-master", "m9"])

    assert shredded.exit_code == 0 and "case-2025-77" in shredded.stdout
    assert rotated.exit_code == 0, rotated.output
    assert MasterKeys.parse(entry.stdout.strip()).active_id == "m9"
