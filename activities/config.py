"""Per-agency connection settings: where each agency's system lives and how to call it.

The directory is read once, at worker start, from a TOML file (``SAMVERKAN_AGENCIES_FILE``;
see ``deploy/agencies.example.toml``). Every problem is reported at start as an
`AgencyConfigError` that names the agency and the field — never a secret's value — so a
misconfigured agency is found before the first consultation, not during one.

Shape of the file::

    [defaults]                       # optional; any agency field except base_url
    request_timeout_seconds = 30

    [agencies.police]
    base_url = "https://polisen.example/samverkan/v1"
    credentials = { kind = "bearer", token_env = "SAMVERKAN_POLICE_TOKEN" }

How often a failed call is retried is not an agency setting: the consultation workflow's
retry policies apply to every agency (docs/operations.md, "Agencies file"). A ``retry``
field, which earlier files had but which never reached a workflow, is ignored with a
warning (`AgencyDirectory.ignored`, logged by `load_agency_directory`).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, model_validator

from cases import Agency

log = structlog.get_logger(__name__)

#: Agencies that may never receive personal data, whatever a config file says (DESIGN §2).
AGENCIES_WITHOUT_PERSONAL_DATA: frozenset[Agency] = frozenset({Agency.CVE})


class AgencyConfigError(ValueError):
    """The agency configuration is invalid. The message names agency and field, no secrets."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BearerCredentials(_Strict):
    """``Authorization: Bearer <token>``; token inline or (better) from an environment variable."""

    kind: Literal["bearer"]
    token: str | None = Field(default=None, min_length=1, repr=False)
    token_env: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_source(self) -> BearerCredentials:
        if (self.token is None) == (self.token_env is None):
            raise ValueError("give exactly one of token or token_env")
        return self

    def headers(self) -> dict[str, str]:
        """The request headers carrying these credentials."""
        return {"Authorization": f"Bearer {_resolve(self.token, self.token_env)}"}


class HeaderCredentials(_Strict):
    """An API key in a header of the agency's choosing (e.g. ``X-Api-Key``)."""

    kind: Literal["header"]
    header: str = Field(min_length=1, pattern=r"^[A-Za-z0-9-]+$")
    value: str | None = Field(default=None, min_length=1, repr=False)
    value_env: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_source(self) -> HeaderCredentials:
        if (self.value is None) == (self.value_env is None):
            raise ValueError("give exactly one of value or value_env")
        return self

    def headers(self) -> dict[str, str]:
        """The request headers carrying these credentials."""
        return {self.header: _resolve(self.value, self.value_env)}


Credentials = Annotated[BearerCredentials | HeaderCredentials, Field(discriminator="kind")]


def _resolve(inline: str | None, env_name: str | None) -> str:
    if inline is not None:
        return inline
    assert env_name is not None  # guaranteed by the models' validators
    return os.environ[env_name]


#: Fields earlier agency files had that nothing reads any more: ignored with a warning.
IGNORED_FIELDS: Mapping[str, str] = {
    "retry": (
        "agency calls are retried as the consultation workflow's retry policies say, the same "
        'for every agency (docs/operations.md, "Agencies file"); remove the field'
    ),
}


class AgencyEndpoint(_Strict):
    """Everything needed to call one agency's system."""

    agency: Agency
    base_url: HttpUrl
    credentials: Credentials | None = None
    connect_timeout_seconds: float = Field(default=5.0, gt=0, le=300)
    request_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    heartbeat_interval_seconds: float = Field(default=5.0, gt=0, le=600)
    accepts_personal_data: bool = True

    @model_validator(mode="after")
    def _cve_never_gets_personal_data(self) -> AgencyEndpoint:
        if self.accepts_personal_data and self.agency in AGENCIES_WITHOUT_PERSONAL_DATA:
            if "accepts_personal_data" in self.model_fields_set:
                raise ValueError(f"{self.agency} may never receive personal data")
            object.__setattr__(self, "accepts_personal_data", False)
        return self

    @property
    def url(self) -> str:
        """The base URL without a trailing slash."""
        return str(self.base_url).rstrip("/")

    def auth_headers(self) -> dict[str, str]:
        """Credential headers for a request (empty when the agency needs none)."""
        return {} if self.credentials is None else self.credentials.headers()


class AgencyDirectory:
    """The configured agencies, validated. Built with `from_toml` or `load_agency_directory`."""

    def __init__(
        self, endpoints: Mapping[Agency, AgencyEndpoint], *, ignored: Sequence[str] = ()
    ) -> None:
        """Wrap already-validated endpoints (tests build them directly); ``ignored`` says
        which fields of the file were ignored, and why."""
        self._endpoints = dict(endpoints)
        self._ignored = tuple(ignored)

    @classmethod
    def from_mapping(cls, document: Mapping[str, Any]) -> AgencyDirectory:
        """Validate a parsed configuration document (the TOML's structure as dicts).

        Raises:
            AgencyConfigError: naming the first agency and fields that are wrong.
        """
        unknown_sections = set(document) - {"defaults", "agencies"}
        if unknown_sections:
            raise AgencyConfigError(f"unknown sections: {', '.join(sorted(unknown_sections))}")
        defaults = document.get("defaults", {})
        agencies = document.get("agencies", {})
        if not isinstance(defaults, Mapping) or not isinstance(agencies, Mapping):
            raise AgencyConfigError("[defaults] and [agencies] must be tables")
        if "base_url" in defaults:
            raise AgencyConfigError("[defaults]: field 'base_url' belongs to each agency")
        ignored = _ignored_fields("[defaults]", defaults)
        defaults = _without_ignored(defaults)
        known = {a.value for a in Agency}
        endpoints: dict[Agency, AgencyEndpoint] = {}
        for name, section in agencies.items():
            if name not in known:
                raise AgencyConfigError(
                    f"agency {name!r} is not known; expected one of: {', '.join(sorted(known))}"
                )
            if not isinstance(section, Mapping):
                raise AgencyConfigError(f"agency {name!r}: must be a table")
            ignored += _ignored_fields(f"agency {name!r}", section)
            merged = {**defaults, **_without_ignored(section), "agency": name}
            try:
                endpoint = AgencyEndpoint.model_validate(merged)
            except ValidationError as exc:
                raise AgencyConfigError(f"agency {name!r}: {_describe(exc)}") from None
            _check_secret_present(name, endpoint)
            endpoints[Agency(name)] = endpoint
        return cls(endpoints, ignored=ignored)

    @classmethod
    def from_toml(cls, text: str) -> AgencyDirectory:
        """Parse and validate TOML text.

        Raises:
            AgencyConfigError: the text is not TOML, or an agency is misconfigured.
        """
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise AgencyConfigError(f"not valid TOML: {exc}") from None
        return cls.from_mapping(document)

    def endpoint(self, agency: Agency | str) -> AgencyEndpoint:
        """The endpoint of ``agency``.

        Raises:
            KeyError: the agency is not configured.
        """
        return self._endpoints[Agency(agency)]

    def __contains__(self, agency: object) -> bool:
        return agency in self._endpoints

    @property
    def agencies(self) -> tuple[Agency, ...]:
        """The configured agencies, in file order."""
        return tuple(self._endpoints)

    @property
    def ignored(self) -> tuple[str, ...]:
        """What the file set that is ignored, one sentence each naming section and field."""
        return self._ignored


def load_agency_directory(path: Path | str | None) -> AgencyDirectory:
    """Read and validate the agency configuration file at ``path`` (``SAMVERKAN_AGENCIES_FILE``).

    Raises:
        AgencyConfigError: ``path`` is None, or the file is missing, unreadable or invalid.
    """
    if path is None:
        raise AgencyConfigError("SAMVERKAN_AGENCIES_FILE is not set: no agency can be reached")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise AgencyConfigError(
            f"cannot read agency configuration {path}: {exc.strerror}"
        ) from None
    directory = AgencyDirectory.from_toml(text)
    for problem in directory.ignored:
        log.warning("agency configuration: field ignored", problem=problem)
    return directory


def _ignored_fields(where: str, section: Mapping[str, Any]) -> list[str]:
    return [
        f"{where}: field {field!r} is ignored: {why}"
        for field, why in IGNORED_FIELDS.items()
        if field in section
    ]


def _without_ignored(section: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in section.items() if k not in IGNORED_FIELDS}


def _describe(exc: ValidationError) -> str:
    """Field paths and messages of a validation error, never the offending values."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        location = ".".join(str(p) for p in error["loc"] if not isinstance(p, int)) or "<root>"
        parts.append(f"field {location!r}: {error['msg']}")
    return "; ".join(parts)


def _check_secret_present(name: str, endpoint: AgencyEndpoint) -> None:
    credentials = endpoint.credentials
    if isinstance(credentials, BearerCredentials) and credentials.token_env is not None:
        env_name, field = credentials.token_env, "credentials.token_env"
    elif isinstance(credentials, HeaderCredentials) and credentials.value_env is not None:
        env_name, field = credentials.value_env, "credentials.value_env"
    else:
        return
    if not os.environ.get(env_name):
        raise AgencyConfigError(
            f"agency {name!r}: field {field!r}: environment variable {env_name} is not set"
        )
