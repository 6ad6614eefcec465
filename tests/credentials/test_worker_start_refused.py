"""``samverkan worker`` as an operator starts it against a Temporal behind the authorizer:
an issuer that refuses the service account's secret stops it in one line, with the status,
never a traceback, the secret or a token."""

from __future__ import annotations

import os
import subprocess
import sysconfig
from pathlib import Path

from infra.attestation import AttestationKeys
from infra.keys import MasterKeys
from tests.credentials.conftest import WORKER_ID
from tests.credentials.token_endpoint import TokenEndpoint

SAMVERKAN = Path(sysconfig.get_path("scripts")) / "samverkan"


def test_a_refused_service_account_stops_the_worker_in_one_line(
    endpoint: TokenEndpoint, database_url: str, tmp_path: Path
) -> None:
    wrong = "not-the-worker-secret-91c2"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TEMPORAL_", "SAMVERKAN_", "DATABASE_URL"))
    }
    env.update(
        HOME=str(tmp_path),
        DATABASE_URL=database_url,
        SAMVERKAN_MASTER_KEYS=MasterKeys.generate_entry("k1"),
        SAMVERKAN_AGENCY_ATTESTATION_KEYS=AttestationKeys.generate_entry("a1"),
        TEMPORAL_ADDRESS="127.0.0.1:9",  # never reached: the token comes first
        TEMPORAL_TLS="false",
        SAMVERKAN_TEMPORAL_TOKEN_URL=endpoint.url,
        SAMVERKAN_TEMPORAL_CLIENT_ID=WORKER_ID,
        SAMVERKAN_TEMPORAL_CLIENT_SECRET=wrong,
        SAMVERKAN_LOG_FORMAT="console",
        SAMVERKAN_AGENCIES_FILE=str(_agencies_file(tmp_path)),
        SAMVERKAN_NOTIFY_URL="http://127.0.0.1:9/notifications",
    )
    result = subprocess.run(
        [str(SAMVERKAN), "worker"], env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.stderr.strip().splitlines()[-1] == (
        f"the token issuer {endpoint.url} refused Samverkan's client credentials (HTTP 401)."
    )
    assert wrong not in result.stdout + result.stderr
    assert [r.status for r in endpoint.requests] == [401]

    for unset, says in (
        ("SAMVERKAN_NOTIFY_URL", "SAMVERKAN_NOTIFY_URL is not set."),
        (
            "SAMVERKAN_AGENCIES_FILE",
            "SAMVERKAN_AGENCIES_FILE is not set: no agency can be reached.",
        ),
    ):
        del env[unset]
        unconfigured = subprocess.run(
            [str(SAMVERKAN), "worker"], env=env, capture_output=True, text=True, timeout=120
        )
        assert unconfigured.returncode == 1
        assert "Traceback" not in unconfigured.stderr, unconfigured.stderr[-3000:]
        assert unconfigured.stderr.strip().splitlines()[-1] == says


def _agencies_file(folder: Path) -> Path:
    """Every agency at a local address (as ``samverkan dev`` writes it)."""
    from cases import Agency

    path = folder / "agencies.toml"
    path.write_text(
        "".join(
            f'[agencies.{a.value}]\nbase_url = "http://127.0.0.1:9/{a.value}"\n\n' for a in Agency
        )
    )
    return path
