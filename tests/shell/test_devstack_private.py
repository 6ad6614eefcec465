"""The dev stack keeps its data folder to the user who runs it (histories, keys, databases)."""

from __future__ import annotations

import stat
from pathlib import Path

from samverkan.devstack import make_private


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_folder_is_the_users_only(tmp_path: Path) -> None:
    data = tmp_path / ".samverkan"
    make_private(data)
    assert _mode(data) == 0o700
    assert _mode(data / "logs") == 0o700


def test_a_world_readable_folder_from_before_is_tightened(tmp_path: Path) -> None:
    data = tmp_path / ".samverkan"
    (data / "logs").mkdir(parents=True)
    data.chmod(0o755)
    (data / "logs").chmod(0o777)
    database = data / "temporal.db"
    database.write_text("history")
    database.chmod(0o644)
    (data / "pg").mkdir()
    make_private(data)
    assert (_mode(data), _mode(data / "logs"), _mode(database)) == (0o700, 0o700, 0o600)
    assert database.read_text() == "history"  # tightened, not replaced
