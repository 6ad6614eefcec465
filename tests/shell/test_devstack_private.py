"""The dev stack keeps its data folder to the user who runs it (histories, keys, databases)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

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


def test_the_stacks_children_ignore_a_developers_settings_for_another_temporal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import sys

    from infra.settings import Settings
    from samverkan.devstack import DevStack

    for name, value in {
        "TEMPORAL_API_KEY": "cloud-key",
        "TEMPORAL_PROFILE": "prod",
        "TEMPORAL_TLS_CLIENT_CERT_PATH": "/home/dev/cert.pem",
        "TEMPORAL_TLS": "true",
        "SAMVERKAN_SOMETHING_ELSE": "kept",
    }.items():
        monkeypatch.setenv(name, value)
    stack = DevStack(Settings(samverkan_data_dir=tmp_path / ".samverkan"))
    make_private(stack.data_dir)
    stack._spawn(
        "probe",
        [sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))"],
        {"TEMPORAL_ADDRESS": "127.0.0.1:7233"},
    )
    assert stack.children[0].process.wait(timeout=30) == 0
    env = json.loads(stack.children[0].log_path.read_text().strip().splitlines()[-1])
    assert "TEMPORAL_API_KEY" not in env and "TEMPORAL_PROFILE" not in env
    assert "TEMPORAL_TLS_CLIENT_CERT_PATH" not in env
    assert env["TEMPORAL_TLS"] == "false"
    assert Path(env["TEMPORAL_CONFIG_FILE"]).read_text().startswith("#")  # a profile-less file
    assert (env["TEMPORAL_ADDRESS"], env["SAMVERKAN_SOMETHING_ELSE"]) == ("127.0.0.1:7233", "kept")
