"""The agency directory is validated at start, with errors naming agency and field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

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
        (
            'base_url = "https://x.example"\nretry = { max_attempts = 0 }',
            r"agency 'school': field 'retry.max_attempts'",
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


def test_retry_policy_follows_the_agency_configuration() -> None:
    directory = AgencyDirectory.from_toml(
        """
[defaults]
retry = { max_attempts = 7, initial_interval_seconds = 0.5, backoff_coefficient = 3.0 }
[agencies.police]
base_url = "https://polisen.example/v1"
"""
    )

    policy = directory.retry_policy_for(Agency.POLICE)

    assert policy.maximum_attempts == 7
    assert policy.initial_interval == timedelta(seconds=0.5)
    assert policy.backoff_coefficient == 3.0
    assert "AgencyRejected" in (policy.non_retryable_error_types or [])
