"""The tests' agency attestation key, and clients with and without the gateway's signing.

The shared Temporal environments (tests/conftest.py) give their clients the gateway's signing
interceptor under `TEST_ATTESTATION_KEYS`, and the workers built by `worker.build_worker` in
the tests check with the same keys: an agency update sent by a test takes the gateway's
path. `unsigned` is the client an operator would have: no attestation.
"""

from __future__ import annotations

from temporalio.client import Client

from infra.attestation import AttestationKeys
from infra.attestation_interceptors import AgencyAttestingInterceptor

#: The key every test gateway signs with and every test worker checks with.
TEST_ATTESTATION_ENTRY = AttestationKeys.generate_entry("tests1")
TEST_ATTESTATION_KEYS = AttestationKeys.parse(TEST_ATTESTATION_ENTRY)


def signing(namespace: str = "default") -> list[AgencyAttestingInterceptor]:
    """The client interceptors of a test environment in ``namespace``."""
    return [AgencyAttestingInterceptor(TEST_ATTESTATION_KEYS, namespace=namespace)]


def unsigned(client: Client) -> Client:
    """``client`` without any attestation: what an operator's CLI or Web UI sends."""
    config = client.config()
    config["interceptors"] = [
        i for i in config["interceptors"] if not isinstance(i, AgencyAttestingInterceptor)
    ]
    return Client(**config)
