"""Municipalities are separate namespaces: a token grants the payloads of its municipality's
namespace and no other's, at the codec endpoint over real HTTP (uvicorn on loopback, tokens
from the local issuer whose JWKS is served on loopback)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator

import httpx
import uvicorn
from google.protobuf import json_format
from structlog.testing import capture_logs
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import WorkflowSerializationContext

from gateway import GatewaySettings
from gateway.codec_routes import create_codec_app
from infra.codec import EncryptionCodec
from infra.settings import Settings
from samverkan.devstack import DEV_SECOND_NAMESPACE, dev_namespaces
from tests.gateway.conftest import Stack
from tests.oidc_issuer import ISSUER

MALMO, ESKILSTUNA = "samverkan-malmo", "samverkan-eskilstuna"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def _codec_listener(stack: Stack) -> AsyncIterator[str]:
    settings = GatewaySettings(
        samverkan_namespaces=f"{MALMO},{ESKILSTUNA}",
        samverkan_codec_port=_free_port(),
        **ISSUER.settings(),
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_codec_app(stack.codec, settings),
            host="127.0.0.1",
            port=settings.samverkan_codec_port,
            log_level="warning",
            lifespan="off",
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{settings.samverkan_codec_port}"
    finally:
        server.should_exit = True
        await task


async def _sealed(stack: Stack, namespace: str, text: str) -> str:
    """A payload as the municipality's worker stores it, as the Web UI posts it."""
    plain = Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())
    sealed = await EncryptionCodec(keys=stack.codec.keys, namespace=namespace).encode([plain])
    return json_format.MessageToJson(Payloads(payloads=sealed))


async def _sealed_for_case(stack: Stack, namespace: str, case_number: str, text: str) -> str:
    """A payload as the municipality's worker seals it for one of its cases (case key)."""
    plain = Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())
    codec = EncryptionCodec(keys=stack.codec.keys, namespace=namespace).with_context(
        WorkflowSerializationContext(namespace=namespace, workflow_id=f"case-{case_number}")
    )
    return json_format.MessageToJson(Payloads(payloads=await codec.encode([plain])))


def _texts(response: httpx.Response) -> list[str]:
    return [base64.b64decode(p["data"]).decode() for p in response.json()["payloads"]]


async def test_a_malmo_token_decodes_malmo_payloads_and_is_refused_for_eskilstunas(
    stack: Stack,
) -> None:
    malmo_case = await _sealed(stack, MALMO, "Malmö: Alva Lindqvist")
    eskilstuna_case = await _sealed(stack, ESKILSTUNA, "Eskilstuna: Elis Berg")
    malmo_user = ISSUER.token([f"{MALMO}:read"], subject="malmo-handlaggare")
    eskilstuna_user = ISSUER.token([f"{ESKILSTUNA}:read"], subject="eskilstuna-handlaggare")

    def call(token: str, namespace: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "X-Namespace": namespace,
            "Content-Type": "application/json",
        }

    async with _codec_listener(stack) as url, httpx.AsyncClient(base_url=url) as http:
        own = await http.post("/codec/decode", content=malmo_case, headers=call(malmo_user, MALMO))
        other = await http.post(
            "/codec/decode", content=eskilstuna_case, headers=call(malmo_user, ESKILSTUNA)
        )
        theirs = await http.post(
            "/codec/decode", content=eskilstuna_case, headers=call(eskilstuna_user, ESKILSTUNA)
        )
        write_without_grant = await http.post(
            "/codec/encode", content=malmo_case, headers=call(malmo_user, MALMO)
        )

    assert own.status_code == 200
    assert _texts(own) == ['"Malmö: Alva Lindqvist"']
    assert other.status_code == 403
    assert other.json() == {"error": "forbidden"}
    assert "Elis" not in other.text
    assert theirs.status_code == 200 and _texts(theirs) == ['"Eskilstuna: Elis Berg"']
    assert write_without_grant.status_code == 403, "read grants decoding only"


async def test_a_payload_under_another_municipalitys_case_key_is_refused_whatever_the_token(
    stack: Stack,
) -> None:
    """A Malmö user with a ciphertext of Eskilstuna's obtained outside Temporal (a backup)
    cannot have it decoded under Malmö's namespace: the key is bound to Eskilstuna."""
    number = f"ESK-{uuid.uuid4().hex[:8]}"
    eskilstuna_case = await _sealed_for_case(stack, ESKILSTUNA, number, "Eskilstuna: Elis Berg")
    malmo_user = ISSUER.token([f"{MALMO}:read"], subject="malmo-handlaggare")
    eskilstuna_user = ISSUER.token([f"{ESKILSTUNA}:read"], subject="eskilstuna-handlaggare")

    def call(token: str, namespace: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "X-Namespace": namespace,
            "Content-Type": "application/json",
        }

    with capture_logs() as logs:
        async with _codec_listener(stack) as url, httpx.AsyncClient(base_url=url) as http:
            smuggled = await http.post(
                "/codec/decode", content=eskilstuna_case, headers=call(malmo_user, MALMO)
            )
            theirs = await http.post(
                "/codec/decode", content=eskilstuna_case, headers=call(eskilstuna_user, ESKILSTUNA)
            )

    assert smuggled.status_code == 403
    assert smuggled.json() == {"error": "other_namespace"}
    assert "Elis" not in smuggled.text and number not in smuggled.text
    assert theirs.status_code == 200 and _texts(theirs) == ['"Eskilstuna: Elis Berg"']
    audited = [
        (e["namespace"], e["status"], e["payloads"]) for e in logs if e["event"] == "gateway.codec"
    ]
    assert audited == [(MALMO, 403, 0), (ESKILSTUNA, 200, 1)]
    assert not any("Elis" in str(e) for e in logs)


def test_the_worker_serves_every_configured_namespace_once_in_order() -> None:
    assert Settings(samverkan_namespaces=f"{MALMO}, {ESKILSTUNA},{MALMO}").namespaces() == [
        MALMO,
        ESKILSTUNA,
    ]
    assert Settings(temporal_namespace="solo").namespaces() == ["solo"]


def test_the_dev_stack_runs_two_municipalities_the_first_being_the_readmes() -> None:
    readme = Settings(temporal_namespace="default", samverkan_namespaces="")
    assert dev_namespaces(readme) == ["default", DEV_SECOND_NAMESPACE]
    assert dev_namespaces(Settings(samverkan_namespaces="a,b,c")) == ["a", "b", "c"]
