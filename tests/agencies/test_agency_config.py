"""The agency directory is validated at start, with errors naming agency and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from activities.config import AgencyConfigError, AgencyDirectory, load_agency_directory
from cases import Agency

EXAMPLE = Path(__file__).parents[2] / "deploy" / "agencies.example.toml"


def test_example_file_is_valid_when_its_secrets_are_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SCHOOL", "SAPO", "SSPF", "BUP", "CVE"):
        monkeypatch.setenv(f"SAMVERKAN_{name}_TOKEN", "t")
    monkeypatch.setenv("SAMVERKAN_POLICE_API_KEY", "k")

    directory = load_agency_directory(EXAMPLE)

    assert set(directory.agencies) == set(Agency)
    assert directory.endpoint("police").auth_headers() == {"X-Api-Key": "k"}
    assert directory.endpoint(Agency.CVE).accepts_personal_data is False
    assert directory.ignored == ()


def test_missing_secret_names_agency_and_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    text = """
[agencies.police]
base_url = "https://polisen.example/v1"
credentials = { kind = "bearer", token_env = "NO_SUCH_TOKEN" }
"""
    with pytest.raises(AgencyConfigError, match=r"agency 'police': field 'credentials.token_env'"):
        AgencyDirectory.from_toml(text)


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ('base_url = "not a url"', r"agency 'school': field 'base_url'"),
        (
            'base_url = "https://x.example"\nrequest_timeout_seconds = -1',
            r"agency 'school': field 'request_timeout_seconds'",
        ),
        ('base_url = "https://x.example"\ncolour = "red"', r"agency 'school': field 'colour'"),
    ],
)
def test_invalid_field_is_named(section: str, expected: str) -> None:
    with pytest.raises(AgencyConfigError, match=expected):
        AgencyDirectory.from_toml(f"[agencies.school]\n{section}\n")


def test_unknown_agency_is_refused() -> None:
    with pytest.raises(AgencyConfigError, match="agency 'polis' is not known"):
        AgencyDirectory.from_toml('[agencies.polis]\nbase_url = "https://x.example"\n')


def test_cve_can_never_be_configured_to_receive_personal_data() -> None:
    text = '[agencies.cve]\nbase_url = "https://x.example"\naccepts_personal_data = true\n'
    with pytest.raises(AgencyConfigError, match=r"agency 'cve'.*may never receive personal data"):
        AgencyDirectory.from_toml(text)


def test_inline_token_is_not_echoed_in_errors() -> None:
    text = """
[agencies.bup]
base_url = "https://x.example"
credentials = { kind = "bearer", token = "s3cret", token_env = "ALSO" }
"""
    with pytest.raises(AgencyConfigError) as caught:
        AgencyDirectory.from_toml(text)
    assert "s3cret" not in str(caught.value)
    assert "agency 'bup'" in str(caught.value)


RETRY = "retry = { max_attempts = 7, initial_interval_seconds = 0.5 }"


def test_a_retry_field_is_ignored_and_named_wherever_it_is() -> None:
    directory = AgencyDirectory.from_toml(
        f"""
[defaults]
request_timeout_seconds = 12
{RETRY}
[agencies.police]
base_url = "https://polisen.example/v1"
{RETRY}
[agencies.school]
base_url = "https://skolan.example/v1"
"""
    )

    assert set(directory.agencies) == {Agency.POLICE, Agency.SCHOOL}
    assert directory.endpoint(Agency.POLICE).request_timeout_seconds == 12
    assert not hasattr(directory.endpoint(Agency.POLICE), "retry")
    assert [problem.split(" is ignored: ")[0] for problem in directory.ignored] == [
        "[defaults]: field 'retry'",
        "agency 'police': field 'retry'",
    ]
    assert all("docs/operations.md" in problem for problem in directory.ignored)


def test_an_ignored_field_is_logged_when_the_worker_loads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "agencies.toml"
    path.write_text(f'[agencies.bup]\nbase_url = "https://bup.example/v1"\n{RETRY}\n')

    with capture_logs() as logs:
        directory = load_agency_directory(path)

    warnings = [e for e in logs if e["event"] == "agency configuration: field ignored"]
    assert [w["log_level"] for w in warnings] == ["warning"]
    assert warnings[0]["problem"] == directory.ignored[0]
    assert warnings[0]["problem"].startswith("agency 'bup': field 'retry' is ignored")


def test_a_file_without_ignored_fields_logs_no_warning(tmp_path: Path) -> None:
    path = tmp_path / "agencies.toml"
    path.write_text('[agencies.bup]\nbase_url = "https://bup.example/v1"\n')

    with capture_logs() as logs:
        directory = load_agency_directory(path)

    assert directory.ignored == ()
    assert [e for e in logs if e["log_level"] == "warning"] == []
