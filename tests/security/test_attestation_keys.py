"""The agency attestation itself (infra.attestation): encoding, keys, rotation. No I/O."""

from __future__ import annotations

import base64

import pytest

from infra.attestation import (
    Attestation,
    AttestationConfigError,
    AttestationKeys,
    MalformedAttestation,
    Subject,
)

SUBJECT = Subject("default", "case-2025-1:consultation-1", "answer", "upd-1", "police")


def _keys(*kids: str) -> AttestationKeys:
    return AttestationKeys.parse(",".join(AttestationKeys.generate_entry(k) for k in kids))


def test_no_two_subjects_share_an_encoding_however_their_fields_are_split() -> None:
    joined = Subject("ab", "c", "answer", "u", "police")
    split = Subject("a", "bc", "answer", "u", "police")

    assert joined.message() != split.message()
    assert (
        Subject("a:b", "", "answer", "u", "police").message()
        != Subject("a", "b", "answer", "u", "police").message()
    )


def test_the_newest_key_signs_and_an_old_one_still_verifies_after_rotation() -> None:
    old = _keys("k1")
    rotated = AttestationKeys((_keys("k2").keys[0], old.keys[0]))

    by_old_gateway = old.sign(SUBJECT)
    by_new_gateway = rotated.sign(SUBJECT)

    assert by_new_gateway.kid == "k2" and rotated.verify(by_new_gateway, SUBJECT)
    assert rotated.verify(by_old_gateway, SUBJECT)
    assert not old.verify(by_new_gateway, SUBJECT), "a worker not yet rotated refuses k2"


@pytest.mark.parametrize(
    "field", ["namespace", "workflow_id", "update_name", "update_id", "agency"]
)
def test_an_attestation_verifies_for_its_own_subject_only(field: str) -> None:
    keys = _keys("k1")
    attestation = keys.sign(SUBJECT)
    other = Subject(**{**{f: getattr(SUBJECT, f) for f in SUBJECT.__slots__}, field: "other"})

    assert keys.verify(attestation, SUBJECT)
    assert not keys.verify(attestation, other)


def test_the_header_value_round_trips_and_rejects_anything_else() -> None:
    attestation = _keys("k1").sign(SUBJECT)

    assert Attestation.decode(attestation.encode()) == attestation
    for bad in (b"", b"police", b'"police"', b'{"kid":"k1"}', b'{"kid":1,"agency":"p","mac":"m"}'):
        with pytest.raises(MalformedAttestation):
            Attestation.decode(bad)


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ("", "no key"),
        ("k1", "not kid:base64key"),
        ("k1:***", "key k1 is not base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "key k1 is shorter than 32 bytes"),
        (f"{AttestationKeys.generate_entry('k1')},{AttestationKeys.generate_entry('k1')}", "twice"),
    ],
)
def test_a_malformed_setting_is_named_without_its_key_material(setting: str, says: str) -> None:
    with pytest.raises(AttestationConfigError) as error:
        AttestationKeys.parse(setting)

    assert says in str(error.value)
    assert str(error.value).startswith("SAMVERKAN_AGENCY_ATTESTATION_KEYS: ")
    secret = setting.partition(":")[2]
    assert not secret or secret not in str(error.value)


def test_an_unset_or_blank_setting_means_no_keys() -> None:
    assert AttestationKeys.from_setting(None) is None
    assert AttestationKeys.from_setting("  ") is None
    assert repr(_keys("k1")) == "AttestationKeys()", "no key material in logs or tracebacks"
