"""Agency attestations: the gateway vouches for the agency behind an update (no I/O).

A consultation accepts ``acknowledge``, ``answer`` and ``decline`` from its addressed agency
only. The payload names the agency, but anyone who may write to the Temporal namespace (an
operator in the Web UI, a ``temporal`` CLI user) could name any agency there. The agency
gateway is the one path on which the agency is *authenticated* (its API key), so the gateway
signs what it knows — which agency sends which update to which workflow — and the worker
accepts an agency update only with that signature (`infra.attestation_interceptors`).

The signature is HMAC-SHA256 under a key shared by the gateways and the workers (never by
operators) over `Subject.message`: a domain tag and the namespace, workflow id, update name,
update id and agency, each length-prefixed, so no two subjects encode alike. It travels as
the Temporal header `HEADER`: a compact JSON object of the key id, the agency and the MAC
(base64url), and no personal data. Binding the update id means a header copied from a
history only fits an update with the same id, which the server deduplicates to the one
already recorded.

Keys come as ``SAMVERKAN_AGENCY_ATTESTATION_KEYS="kid2:<base64 32+ bytes>,kid1:<…>"``
(`AttestationKeys.parse`): the **first** signs, every one verifies, so a new key is put
first on the workers, then on the gateways, and the old one is dropped after that.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

#: The Temporal header that carries an `Attestation`.
HEADER = "samverkan-agency-attestation"
#: The environment variable of the keys (the setting ``samverkan_agency_attestation_keys``).
KEYS_ENV = "SAMVERKAN_AGENCY_ATTESTATION_KEYS"
#: The consultation workflow's updates that only the addressed agency may send.
AGENCY_UPDATES = frozenset({"acknowledge", "answer", "decline"})
#: The shortest key accepted, in bytes.
MIN_KEY_BYTES = 32

_DOMAIN = b"samverkan/agency-attestation/v1"


class AttestationConfigError(ValueError):
    """The attestation keys setting is malformed (the message names no key material)."""


class MalformedAttestation(ValueError):
    """A header value that is not an `Attestation`."""


@dataclass(frozen=True, slots=True)
class Subject:
    """What an attestation vouches for: this agency sends this update to this workflow."""

    namespace: str
    workflow_id: str
    update_name: str
    update_id: str
    agency: str

    def message(self) -> bytes:
        """The canonical bytes the MAC covers: the domain tag, then every field as a 4-byte
        big-endian length and its UTF-8 bytes (unambiguous: no separator to smuggle)."""
        fields = (self.namespace, self.workflow_id, self.update_name, self.update_id, self.agency)
        parts = [_DOMAIN]
        for value in fields:
            encoded = value.encode("utf-8")
            parts.append(len(encoded).to_bytes(4, "big") + encoded)
        return b"".join(parts)


@dataclass(frozen=True, slots=True)
class Attestation:
    """The header value: key id, agency and MAC (base64url without padding)."""

    kid: str
    agency: str
    mac: str

    def encode(self) -> bytes:
        """Compact JSON, the header payload's data."""
        return json.dumps(
            {"kid": self.kid, "agency": self.agency, "mac": self.mac}, separators=(",", ":")
        ).encode("utf-8")

    @classmethod
    def decode(cls, data: bytes) -> Attestation:
        """The attestation in ``data``.

        Raises:
            MalformedAttestation: not a JSON object of three strings.
        """
        try:
            parsed = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise MalformedAttestation("not JSON") from None
        if not isinstance(parsed, Mapping) or set(parsed) != {"kid", "agency", "mac"}:
            raise MalformedAttestation("not an object of kid, agency and mac")
        if not all(isinstance(parsed[k], str) for k in ("kid", "agency", "mac")):
            raise MalformedAttestation("kid, agency and mac must be strings")
        return cls(kid=parsed["kid"], agency=parsed["agency"], mac=parsed["mac"])


@dataclass(frozen=True, slots=True)
class AttestationKeys:
    """The shared keys, newest first: the first signs, all verify."""

    keys: tuple[tuple[str, bytes], ...] = field(repr=False)

    def __post_init__(self) -> None:
        if not self.keys:
            raise AttestationConfigError(f"{KEYS_ENV}: no key")
        kids = [kid for kid, _ in self.keys]
        if len(set(kids)) != len(kids):
            raise AttestationConfigError(f"{KEYS_ENV}: a key id appears twice")
        for kid, key in self.keys:
            if not kid or any(c in kid for c in ":, "):
                raise AttestationConfigError(
                    f"{KEYS_ENV}: key id {kid!r} is empty or has : , or space"
                )
            if len(key) < MIN_KEY_BYTES:
                raise AttestationConfigError(
                    f"{KEYS_ENV}: key {kid} is shorter than {MIN_KEY_BYTES} bytes"
                )

    @classmethod
    def parse(cls, text: str) -> AttestationKeys:
        """Keys from ``"kid:base64key,kid:base64key"`` (first signs).

        Raises:
            AttestationConfigError: empty, an entry without ``:``, bad base64, a short key or
                a repeated key id.
        """
        keys = []
        for entry in (e.strip() for e in text.split(",")):
            if not entry:
                continue
            kid, sep, encoded = entry.partition(":")
            if not sep:
                raise AttestationConfigError(f"{KEYS_ENV}: an entry is not kid:base64key")
            try:
                key = base64.b64decode(encoded.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise AttestationConfigError(
                    f"{KEYS_ENV}: key {kid.strip()} is not base64"
                ) from None
            keys.append((kid.strip(), key))
        return cls(tuple(keys))

    @classmethod
    def from_setting(cls, text: str | None) -> AttestationKeys | None:
        """`parse` of the setting's value; None when it is unset or blank.

        Raises:
            AttestationConfigError: as `parse`.
        """
        return cls.parse(text) if text and text.strip() else None

    @staticmethod
    def generate_entry(kid: str) -> str:
        """A new ``kid:base64key`` entry (32 random bytes) to put first in the setting.

        Raises:
            AttestationConfigError: ``kid`` is empty or holds ``:``, ``,`` or a space.
        """
        entry = f"{kid}:{base64.b64encode(secrets.token_bytes(MIN_KEY_BYTES)).decode()}"
        AttestationKeys(((kid, base64.b64decode(entry.partition(":")[2])),))  # checks the id
        return entry

    @property
    def signing_kid(self) -> str:
        """The id of the key that signs."""
        return self.keys[0][0]

    def sign(self, subject: Subject) -> Attestation:
        """The attestation of ``subject`` under the newest key."""
        kid, key = self.keys[0]
        return Attestation(kid=kid, agency=subject.agency, mac=_mac(key, subject))

    def verify(self, attestation: Attestation, subject: Subject) -> bool:
        """Whether ``attestation`` is a valid one of ``subject`` under any of the keys
        (constant-time comparison; an unknown key id or another agency is simply False)."""
        key = dict(self.keys).get(attestation.kid)
        if key is None or attestation.agency != subject.agency:
            return False
        given = attestation.mac.encode("ascii", "replace")
        return hmac.compare_digest(given, _mac(key, subject).encode("ascii"))


def _mac(key: bytes, subject: Subject) -> str:
    digest = hmac.new(key, subject.message(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
