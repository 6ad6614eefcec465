"""A Temporal client's access token from the issuer (`infra.credentials`, through
`infra.temporal_client.connect`): fetched before connecting, renewed before it expires and
pushed to every client, kept through an issuer outage, refused in one line, never logged."""

from __future__ import annotations

import asyncio
import base64
import time

import pytest
import structlog
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from infra.credentials import (
    ClientCredentials,
    ClientCredentialsTokenSource,
    TokenIssuerUnreachable,
    TokenRefused,
    refresh_delay,
    retry_delay,
)
from infra.temporal_client import (
    TemporalConfigError,
    close_token_sources,
    connect,
    connect_options,
    token_source_for,
)
from tests.credentials.conftest import (
    GATEWAY_ID,
    GATEWAY_SECRET,
    WORKER_ID,
    WORKER_SECRET,
    settings_for,
)
from tests.credentials.token_endpoint import TokenEndpoint
from tests.waiting import eventually


def _source(endpoint: TokenEndpoint, **timing: float) -> ClientCredentialsTokenSource:
    credentials = ClientCredentials(
        token_url=endpoint.url, client_id=WORKER_ID, client_secret=SecretStr(WORKER_SECRET)
    )
    return ClientCredentialsTokenSource(credentials, **timing)


def _claims(token: str) -> dict[str, object]:
    import jwt

    claims: dict[str, object] = jwt.decode(token, options={"verify_signature": False})
    return claims


# -- when ---------------------------------------------------------------------------------------


def test_renewal_comes_at_three_quarters_of_the_lifetime_and_a_minute_before_expiry() -> None:
    assert refresh_delay(3600) == 2700  # 75 %
    assert refresh_delay(300) == 225
    assert refresh_delay(200) == 140  # a minute before expiry comes first
    assert refresh_delay(120) == 60
    assert refresh_delay(100) == 50  # too short for both: halfway
    assert refresh_delay(4, margin=0.5) == 3


def test_a_failed_renewal_is_retried_sooner_than_the_cap_doubling() -> None:
    assert [retry_delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert retry_delay(3, initial=0.1, maximum=0.3) == pytest.approx(0.3)


# -- the first token ----------------------------------------------------------------------------


async def test_the_first_token_is_fetched_before_connecting(
    endpoint: TokenEndpoint, local_env: WorkflowEnvironment
) -> None:
    client = await connect(settings_for(endpoint, local_env))
    [request] = endpoint.requests
    assert request.client_id == WORKER_ID  # Basic auth, id and secret form-urlencoded
    assert request.form == {"grant_type": "client_credentials"}
    assert client.api_key == endpoint.issued[0]
    assert _claims(client.api_key)["permissions"] == ["default:write", "samverkan-eskilstuna:write"]
    assert (await client.count_workflows("WorkflowType = 'NoSuchWorkflow'")).count == 0


async def test_without_a_token_there_is_no_connection_attempt(endpoint: TokenEndpoint) -> None:
    """Nothing listens at the Temporal address: the issuer's refusal is what the caller sees."""
    settings = settings_for(endpoint, secret="wrong", temporal_address="127.0.0.1:9")
    with pytest.raises(TokenRefused) as refused:
        await connect(settings)
    assert refused.value.status_code == 401
    assert [r.status for r in endpoint.requests] == [401]


async def test_scope_and_audience_go_in_the_form(
    endpoint: TokenEndpoint, local_env: WorkflowEnvironment
) -> None:
    settings = settings_for(
        endpoint,
        local_env,
        samverkan_temporal_token_scope="temporal",
        samverkan_temporal_token_audience="temporal-frontend",
    )
    client = await connect(settings)
    assert endpoint.requests[0].form == {
        "grant_type": "client_credentials",
        "scope": "temporal",
        "audience": "temporal-frontend",
    }
    assert _claims(client.api_key or "")["aud"] == "temporal-frontend"


async def test_the_clients_of_one_service_account_share_one_token(
    endpoint: TokenEndpoint, local_env: WorkflowEnvironment
) -> None:
    """The worker connects once per municipality's namespace: one token, one refresher."""
    first = await connect(settings_for(endpoint, local_env))
    second = await connect(settings_for(endpoint, local_env, temporal_namespace="other"))
    gateway = await connect(
        settings_for(
            endpoint,
            local_env,
            samverkan_temporal_client_id=GATEWAY_ID,
            secret=GATEWAY_SECRET,
        )
    )
    assert len(endpoint.requests) == 2
    assert first.api_key == second.api_key != gateway.api_key
    assert _claims(gateway.api_key or "")["permissions"] == ["default:write"]


# -- renewal ------------------------------------------------------------------------------------


async def test_the_token_is_renewed_before_it_expires_and_every_client_gets_it(
    endpoint: TokenEndpoint, local_env: WorkflowEnvironment
) -> None:
    endpoint.expires_in = 4
    settings = settings_for(endpoint, local_env)
    async with _source(endpoint, expiry_margin=0.5) as source:
        first = await connect(settings, token_source=source)
        second = await connect(settings, token_source=source)
        token = first.api_key

        async def renewed() -> bool:
            return first.api_key != token

        await eventually(renewed, seconds=10)
        asked, renewal = endpoint.requests[0].at, endpoint.requests[1].at
        # at 75 % of 4 s (3 s after asking), before the token expired
        assert 2.8 <= renewal - asked < 4
        assert first.api_key == second.api_key == endpoint.issued[1]
        assert (await second.count_workflows("WorkflowType = 'NoSuchWorkflow'")).count == 0


async def test_a_client_made_from_a_dropped_one_keeps_getting_renewed_tokens(
    endpoint: TokenEndpoint, local_env: WorkflowEnvironment
) -> None:
    """The gateway keeps only its attesting client, made from the connected one's config."""
    import gc

    from temporalio.client import Client

    endpoint.expires_in = 3
    async with _source(endpoint, expiry_margin=0.5) as source:
        connected = await connect(settings_for(endpoint, local_env), token_source=source)
        kept = Client(**connected.config())
        token = kept.api_key
        del connected
        gc.collect()

        async def renewed() -> bool:
            return kept.api_key != token

        await eventually(renewed, seconds=10)
        assert kept.api_key == endpoint.issued[-1]
        assert (await kept.count_workflows("WorkflowType = 'NoSuchWorkflow'")).count == 0


async def test_an_issuer_outage_keeps_the_valid_token_retries_and_recovers(
    endpoint: TokenEndpoint, local_env: WorkflowEnvironment
) -> None:
    endpoint.expires_in = 3
    async with _source(endpoint, expiry_margin=0.5, retry_initial=0.1, retry_max=0.3) as source:
        client = await connect(settings_for(endpoint, local_env), token_source=source)
        token = client.api_key
        endpoint.down = True
        with structlog.testing.capture_logs() as logs:

            async def retried_three_times() -> bool:
                return len(endpoint.answered(503)) >= 3

            await eventually(retried_three_times, seconds=10)
            still_valid = time.monotonic() < endpoint.requests[0].at + 3
            assert client.api_key == token  # the old token while it is valid (and after)
            endpoint.down = False

            async def recovered() -> bool:
                return client.api_key != token

            await eventually(recovered, seconds=10)
        assert client.api_key == endpoint.issued[-1]
        assert (await client.count_workflows("WorkflowType = 'NoSuchWorkflow'")).count == 0
    failures = [e for e in logs if e["log_level"] in ("warning", "error")]
    assert len(failures) >= 3
    for entry in failures:
        assert entry["error"] == "TokenRefused" and entry["status_code"] == 503
        assert entry["token_url"] == endpoint.url
    if still_valid:
        assert failures[0]["log_level"] == "warning" and failures[0]["valid_for"] >= 0
    assert [e["event"] for e in logs if e["log_level"] == "info"] == [
        "temporal access token renewed again"
    ]


async def test_an_unreachable_issuer_is_named_by_the_type_of_failure(
    endpoint: TokenEndpoint,
) -> None:
    source = _source(endpoint)
    source.credentials = ClientCredentials(
        token_url="http://127.0.0.1:9/token",
        client_id=WORKER_ID,
        client_secret=SecretStr(WORKER_SECRET),
    )
    async with source:
        with pytest.raises(TokenIssuerUnreachable) as unreachable:
            await source.token()
    assert unreachable.value.error_type == "ConnectError"
    assert str(unreachable.value) == (
        "the token issuer http://127.0.0.1:9/token cannot be reached (ConnectError)"
    )


# -- secrets stay secret ------------------------------------------------------------------------


async def test_a_wrong_secret_is_one_line_with_the_status_and_never_the_secret(
    endpoint: TokenEndpoint, local_env: WorkflowEnvironment
) -> None:
    wrong = "not-the-secret-4f9a"
    settings = settings_for(endpoint, local_env, secret=wrong)
    with pytest.raises(TokenRefused) as refused:
        await connect(settings)
    message = str(refused.value)
    assert message == (
        f"the token issuer {endpoint.url} refused Samverkan's client credentials (HTTP 401)"
    )
    assert refused.value.__cause__ is None and refused.value.__context__ is None  # no chain
    for shown in (message, repr(settings), repr(connect_options(settings))):
        assert wrong not in shown
        assert base64.b64encode(wrong.encode()).decode() not in shown


async def test_logs_never_hold_a_token_or_the_secret(
    endpoint: TokenEndpoint, local_env: WorkflowEnvironment
) -> None:
    endpoint.expires_in = 2
    with structlog.testing.capture_logs() as logs:
        async with _source(endpoint, retry_initial=0.1, retry_max=0.2) as source:
            client = await connect(settings_for(endpoint, local_env), token_source=source)

            async def renewed_twice() -> bool:
                return source.refreshes >= 2

            await eventually(renewed_twice, seconds=10)
            endpoint.down = True

            async def failed() -> bool:
                return len(endpoint.answered(503)) >= 2

            await eventually(failed, seconds=10)
            endpoint.down = False
            assert client.api_key in endpoint.issued
    assert logs, "the renewals and failures were logged"
    text = repr(logs) + repr(source) + repr(source.current)
    for token in endpoint.issued:
        assert token not in text
        assert token.split(".")[2] not in text  # not even the signature
    assert WORKER_SECRET not in text


# -- settings -----------------------------------------------------------------------------------


def test_a_static_api_key_and_a_token_url_together_are_refused(endpoint: TokenEndpoint) -> None:
    with pytest.raises(
        TemporalConfigError, match=r"TEMPORAL_API_KEY .* and SAMVERKAN_TEMPORAL_TOKEN_URL"
    ):
        connect_options(settings_for(endpoint, temporal_api_key="static-key"))
    with pytest.raises(TemporalConfigError, match="the header would hide the access token"):
        connect_options(
            settings_for(endpoint), {"TEMPORAL_GRPC_META_AUTHORIZATION": "Bearer static"}
        )
    with pytest.raises(TemporalConfigError, match="SAMVERKAN_TEMPORAL_CLIENT_SECRET not"):
        connect_options(settings_for(endpoint, secret=""))
    # the Kubernetes secret template leaves an unused key empty: not a key
    assert connect_options(settings_for(endpoint, temporal_api_key="")).credentials is not None


def test_a_token_url_switches_tls_on_like_any_api_key_unless_tls_is_off(
    endpoint: TokenEndpoint,
) -> None:
    with_tls = connect_options(settings_for(endpoint, temporal_tls=None), {})
    assert with_tls.tls is True and with_tls.api_key is None
    assert connect_options(settings_for(endpoint), {}).tls is False
    without = connect_options(settings_for(endpoint, samverkan_temporal_token_url=""), {})
    assert without.credentials is None and without.tls is False


async def test_closing_the_token_sources_stops_their_refreshers(
    endpoint: TokenEndpoint, local_env: WorkflowEnvironment
) -> None:
    endpoint.expires_in = 1
    settings = settings_for(endpoint, local_env)
    client: Client = await connect(settings)
    source = token_source_for(connect_options(settings).credentials)  # type: ignore[arg-type]
    await close_token_sources()
    asked = len(endpoint.requests)
    await asyncio.sleep(1.5)  # longer than the token lives: a running refresher would ask
    assert len(endpoint.requests) == asked
    assert token_source_for(source.credentials) is not source  # a new one on next use
    assert client.api_key == endpoint.issued[-1]
