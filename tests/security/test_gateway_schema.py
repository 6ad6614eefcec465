"""schemathesis against the gateway's published OpenAPI document: no 5xx, every response as
documented (status, content type, headers, body schema).

The document is loaded from the app itself (``/v1/openapi.json`` through schemathesis's ASGI
loader). The generated requests are sent by an httpx client on the test's own event loop,
because the app's asyncpg pool and Temporal client live there (schemathesis's ASGI transport
runs the app in a loop of its own); hypothesis drives generation from a worker thread.
Every request carries a valid agency key, so it reaches validation, Temporal and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, reject, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cases import Agency
from tests.gateway.conftest import Stack, stack  # noqa: F401  (the gateway tests' fixture)

MAX_EXAMPLES = 15
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _request(kwargs: dict[str, Any]) -> dict[str, Any]:
    """requests-style keyword arguments (schemathesis's serialisation) for httpx."""
    out = {k: v for k, v in kwargs.items() if k in {"method", "url", "headers", "params", "json"}}
    if kwargs.get("data") is not None:
        out["content"] = kwargs["data"]
    return out


async def test_the_gateway_conforms_to_its_openapi_document_under_generated_requests(
    stack: Stack,  # noqa: F811
) -> None:
    http = stack.make_app(samverkan_gateway_burst=100_000)
    app = http._transport.app  # type: ignore[attr-defined]  # the app behind make_app's client
    schema = schemathesis.openapi.from_asgi("/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {
        "/v1/consultations",
        "/v1/consultations/{consultation_id}/answer",
    }
    own = await stack.consultation(Agency.POLICE)
    loop = asyncio.get_running_loop()
    auth = stack.auth(Agency.POLICE)
    seen: list[int] = []

    def explore(operation: Any, mode: GenerationMode) -> None:
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case: Any) -> None:
            if "consultation_id" in (case.path_parameters or {}) and len(seen) % 3 == 0:
                case.path_parameters["consultation_id"] = own.id  # now and then a real one
            kwargs = _request(
                case.as_transport_kwargs(base_url="http://gateway.test", headers=auth)
            )
            try:
                request = http.build_request(**kwargs)
            except (ValueError, TypeError, UnicodeEncodeError):
                reject()  # a negative case no HTTP client can send (e.g. a non-ASCII header)
            response = asyncio.run_coroutine_threadsafe(http.send(request), loop).result(60)
            seen.append(response.status_code)
            case.validate_response(response, checks=CHECKS, headers=kwargs.get("headers"))

        check()

    async with http:
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                await asyncio.to_thread(explore, operation, mode)

    assert seen and max(seen) < 500
    assert {200, 404, 422} <= set(seen), sorted(set(seen))  # success, not found, invalid
