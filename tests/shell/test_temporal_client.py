"""Connecting to Temporal (`infra.temporal_client`): Temporal's standard client configuration
(profile files and ``TEMPORAL_*`` variables), `Settings` given explicitly over it, the
deprecated ``TEMPORAL_TLS_*_FILE`` names; and real connections to the dev server, directly
and through a TLS proxy that demands a client certificate."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import os
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from temporalio.service import TLSConfig
from temporalio.testing import WorkflowEnvironment

from infra.settings import Settings
from infra.temporal_client import ConnectOptions, connect, connect_options

SERVER_NAME = "temporal.test"


@pytest.fixture
def temporal_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No ``TEMPORAL_*`` variables and an empty home, so the developer's own Temporal
    configuration (``~/.config/temporalio/temporal.toml``) stays out of the tests."""
    for name in list(os.environ):
        if name.startswith("TEMPORAL_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    return monkeypatch


def _tls_on(options: ConnectOptions) -> bool:
    return options.tls is True or isinstance(options.tls, TLSConfig)


def _tls_config(options: ConnectOptions) -> TLSConfig:
    assert isinstance(options.tls, TLSConfig), options.tls
    return options.tls


def _deprecation_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "infra.temporal_client" and "deprecated" in r.getMessage()
    ]


# -- certificates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    """A test CA, a server certificate for `SERVER_NAME` and a client certificate, as files."""

    folder: Path

    @property
    def ca(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def server_cert(self) -> Path:
        return self.folder / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.folder / "server.key"

    @property
    def client_cert(self) -> Path:
        return self.folder / "client.pem"

    @property
    def client_key(self) -> Path:
        return self.folder / "client.key"


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    usage: x509.ObjectIdentifier | None,
) -> bytes:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "samverkan test ca")]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=usage is None, path_length=None), critical=True)
    )
    if usage is None:  # the CA
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if usage == ExtendedKeyUsageOID.SERVER_AUTH:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False
            )
    return builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    pki = Pki(tmp_path_factory.mktemp("pki"))
    ca_key, server_key, client_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    pki.ca.write_bytes(_certificate("samverkan test ca", ca_key, ca_key, usage=None))
    pki.server_cert.write_bytes(
        _certificate(SERVER_NAME, server_key, ca_key, usage=ExtendedKeyUsageOID.SERVER_AUTH)
    )
    pki.server_key.write_bytes(_key_pem(server_key))
    pki.client_cert.write_bytes(
        _certificate("worker", client_key, ca_key, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    )
    pki.client_key.write_bytes(_key_pem(client_key))
    return pki


# -- where the options come from ------------------------------------------------------------


def test_nothing_configured_means_the_local_default(temporal_env: pytest.MonkeyPatch) -> None:
    options = connect_options(Settings())
    assert options == ConnectOptions(
        target_host="127.0.0.1:7233", namespace="default", api_key=None, tls=False
    )
    assert options.rpc_metadata == {}


def test_the_standard_tls_variables_reach_the_connection(
    temporal_env: pytest.MonkeyPatch, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    temporal_env.setenv("TEMPORAL_ADDRESS", "temporal.region.example:7233")
    temporal_env.setenv("TEMPORAL_NAMESPACE", "samverkan")
    temporal_env.setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", str(pki.ca))
    temporal_env.setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", str(pki.client_cert))
    temporal_env.setenv("TEMPORAL_TLS_CLIENT_KEY_PATH", str(pki.client_key))
    temporal_env.setenv("TEMPORAL_TLS_SERVER_NAME", SERVER_NAME)
    temporal_env.setenv("TEMPORAL_GRPC_META_X_REGION", "vastra")
    options = connect_options(Settings())
    assert options.target_host == "temporal.region.example:7233"
    assert options.namespace == "samverkan"
    tls = _tls_config(options)
    assert tls.server_root_ca_cert == pki.ca.read_bytes()
    assert tls.client_cert == pki.client_cert.read_bytes()
    assert tls.client_private_key == pki.client_key.read_bytes()
    assert tls.domain == SERVER_NAME
    assert options.rpc_metadata == {"x-region": "vastra"}
    assert _deprecation_lines(caplog) == []


def test_certificates_can_be_given_inline(temporal_env: pytest.MonkeyPatch, pki: Pki) -> None:
    temporal_env.setenv("TEMPORAL_TLS_SERVER_CA_CERT_DATA", pki.ca.read_text())
    temporal_env.setenv("TEMPORAL_TLS_CLIENT_CERT_DATA", pki.client_cert.read_text())
    temporal_env.setenv("TEMPORAL_TLS_CLIENT_KEY_DATA", pki.client_key.read_text())
    tls = _tls_config(connect_options(Settings()))
    assert tls.server_root_ca_cert == pki.ca.read_bytes()
    assert tls.client_cert == pki.client_cert.read_bytes()
    assert tls.client_private_key == pki.client_key.read_bytes()


@pytest.mark.parametrize(
    ("variables", "api_key", "tls_on"),
    [
        ({"TEMPORAL_API_KEY": "k-123"}, "k-123", True),
        ({"TEMPORAL_API_KEY": "k-123", "TEMPORAL_TLS": "false"}, "k-123", False),
        ({"TEMPORAL_API_KEY": ""}, None, False),  # the Kubernetes secret template's value
        ({"TEMPORAL_TLS": "true"}, None, True),
        ({"TEMPORAL_TLS": "false"}, None, False),
        ({"TEMPORAL_TLS_SERVER_NAME": SERVER_NAME}, None, True),
    ],
)
def test_an_api_key_or_a_tls_setting_switches_tls_on_unless_it_is_switched_off(
    temporal_env: pytest.MonkeyPatch,
    variables: dict[str, str],
    api_key: str | None,
    tls_on: bool,
) -> None:
    for name, value in variables.items():
        temporal_env.setenv(name, value)
    options = connect_options(Settings())
    assert options.api_key == api_key
    assert _tls_on(options) is tls_on


PROFILES = """
[profile.default]
address = "default.example:7233"

[profile.prod]
address = "prod.example:7233"
namespace = "samverkan-prod"
api_key = "prod-key"

[profile.prod.tls]
server_name = "temporal.test"
server_ca_cert_path = "{ca}"

[profile.prod.grpc_meta]
x-tenant = "region"
"""


def test_a_profile_file_and_profile_are_picked_by_the_standard_variables(
    temporal_env: pytest.MonkeyPatch, tmp_path: Path, pki: Pki
) -> None:
    config = tmp_path / "temporal.toml"
    config.write_text(PROFILES.format(ca=pki.ca))
    temporal_env.setenv("TEMPORAL_CONFIG_FILE", str(config))
    assert connect_options(Settings()).target_host == "default.example:7233"

    temporal_env.setenv("TEMPORAL_PROFILE", "prod")
    options = connect_options(Settings())
    assert options.target_host == "prod.example:7233"
    assert options.namespace == "samverkan-prod"
    assert options.api_key == "prod-key"
    assert _tls_config(options).server_root_ca_cert == pki.ca.read_bytes()
    assert _tls_config(options).domain == SERVER_NAME
    assert options.rpc_metadata == {"x-tenant": "region"}
    assert "prod-key" not in repr(options)

    temporal_env.setenv("TEMPORAL_ADDRESS", "env.example:7233")  # the variable beats the file
    assert connect_options(Settings()).target_host == "env.example:7233"


def test_the_default_profile_file_is_the_one_in_the_users_config_folder(
    temporal_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "home" / ".config" / "temporalio"
    folder.mkdir(parents=True)
    (folder / "temporal.toml").write_text('[profile.default]\naddress = "home.example:7233"\n')
    assert connect_options(Settings()).target_host == "home.example:7233"


def test_settings_given_explicitly_override_temporals_configuration(
    temporal_env: pytest.MonkeyPatch, tmp_path: Path, pki: Pki
) -> None:
    config = tmp_path / "temporal.toml"
    config.write_text(PROFILES.format(ca=pki.ca))
    temporal_env.setenv("TEMPORAL_CONFIG_FILE", str(config))
    temporal_env.setenv("TEMPORAL_PROFILE", "prod")
    explicit = Settings(
        temporal_address="explicit.example:7233",
        temporal_namespace="explicit",
        temporal_api_key="explicit-key",
        temporal_tls=False,
    )
    options = connect_options(explicit)
    assert (options.target_host, options.namespace) == ("explicit.example:7233", "explicit")
    assert options.api_key == "explicit-key"
    assert options.tls is False
    # a copied Settings with another address (what a command option overriding it does)
    copied = Settings().model_copy(update={"temporal_address": "copied.example:7233"})
    assert connect_options(copied).target_host == "copied.example:7233"
    assert connect_options(copied).namespace == "samverkan-prod"


def test_the_deprecated_tls_file_variables_still_work_and_log_one_line_naming_the_new_ones(
    temporal_env: pytest.MonkeyPatch, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    temporal_env.setenv("TEMPORAL_TLS", "true")
    temporal_env.setenv("TEMPORAL_TLS_CA_FILE", str(pki.ca))
    temporal_env.setenv("TEMPORAL_TLS_CERT_FILE", str(pki.client_cert))
    temporal_env.setenv("TEMPORAL_TLS_KEY_FILE", str(pki.client_key))
    with caplog.at_level(logging.WARNING, logger="infra.temporal_client"):
        tls = _tls_config(connect_options(Settings()))
    assert tls.server_root_ca_cert == pki.ca.read_bytes()
    assert tls.client_cert == pki.client_cert.read_bytes()
    assert tls.client_private_key == pki.client_key.read_bytes()
    [line] = _deprecation_lines(caplog)
    for old, new in [
        ("TEMPORAL_TLS_CA_FILE", "TEMPORAL_TLS_SERVER_CA_CERT_PATH"),
        ("TEMPORAL_TLS_CERT_FILE", "TEMPORAL_TLS_CLIENT_CERT_PATH"),
        ("TEMPORAL_TLS_KEY_FILE", "TEMPORAL_TLS_CLIENT_KEY_PATH"),
    ]:
        assert f"{old} -> {new}" in line
    assert str(pki.folder) not in line


def test_a_deprecated_file_acts_as_its_standard_name(
    temporal_env: pytest.MonkeyPatch, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    temporal_env.setenv("TEMPORAL_TLS_CA_FILE", str(pki.ca))
    with caplog.at_level(logging.WARNING, logger="infra.temporal_client"):
        alone = connect_options(Settings())
    assert _tls_config(alone).server_root_ca_cert == pki.ca.read_bytes()
    assert _deprecation_lines(caplog) == [
        "deprecated settings, same meaning under the standard names: "
        "TEMPORAL_TLS_CA_FILE -> TEMPORAL_TLS_SERVER_CA_CERT_PATH"
    ]
    # combined with a standard name for another file
    temporal_env.setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", str(pki.client_cert))
    temporal_env.setenv("TEMPORAL_TLS_CLIENT_KEY_PATH", str(pki.client_key))
    combined = _tls_config(connect_options(Settings()))
    assert combined.server_root_ca_cert == pki.ca.read_bytes()
    assert combined.client_cert == pki.client_cert.read_bytes()
    temporal_env.setenv("TEMPORAL_TLS", "false")
    assert connect_options(Settings()).tls is False


def test_a_missing_config_file_profile_or_certificate_is_an_error(
    temporal_env: pytest.MonkeyPatch, tmp_path: Path, pki: Pki
) -> None:
    temporal_env.setenv("TEMPORAL_CONFIG_FILE", str(tmp_path / "missing.toml"))
    with pytest.raises(FileNotFoundError, match="TEMPORAL_CONFIG_FILE"):
        connect_options(Settings())
    config = tmp_path / "temporal.toml"
    config.write_text(PROFILES.format(ca=pki.ca))
    temporal_env.setenv("TEMPORAL_CONFIG_FILE", str(config))
    temporal_env.setenv("TEMPORAL_PROFILE", "staging")
    with pytest.raises(RuntimeError, match="staging"):
        connect_options(Settings())
    temporal_env.delenv("TEMPORAL_PROFILE")
    temporal_env.setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", str(tmp_path / "missing.pem"))
    with pytest.raises(FileNotFoundError):
        connect_options(Settings())


# -- real connections -----------------------------------------------------------------------


def _target(env: WorkflowEnvironment) -> str:
    target: str = env.client.service_client.config.target_host
    return target


async def test_connect_reaches_the_dev_server_named_in_a_profile_file(
    temporal_env: pytest.MonkeyPatch, tmp_path: Path, local_env: WorkflowEnvironment
) -> None:
    config = tmp_path / "temporal.toml"
    config.write_text(
        f'[profile.local]\naddress = "{_target(local_env)}"\n'
        f'namespace = "{local_env.client.namespace}"\n'
        '[profile.local.grpc_meta]\nx-region = "vastra"\n'
    )
    temporal_env.setenv("TEMPORAL_CONFIG_FILE", str(config))
    temporal_env.setenv("TEMPORAL_PROFILE", "local")
    client = await connect(Settings())
    assert client.service_client.config.target_host == _target(local_env)
    assert client.namespace == local_env.client.namespace
    assert client.service_client.config.rpc_metadata == {"x-region": "vastra"}
    assert (await client.count_workflows("WorkflowType = 'NoSuchWorkflow'")).count == 0


async def test_an_api_key_alone_means_tls_which_the_plain_dev_server_refuses(
    temporal_env: pytest.MonkeyPatch, local_env: WorkflowEnvironment
) -> None:
    temporal_env.setenv("TEMPORAL_ADDRESS", _target(local_env))
    temporal_env.setenv("TEMPORAL_API_KEY", "k-123")
    with pytest.raises(RuntimeError, match="connect"):
        await connect(Settings())
    temporal_env.setenv("TEMPORAL_TLS", "false")
    client = await connect(Settings())
    assert client.service_client.config.api_key == "k-123"
    assert (await client.count_workflows("WorkflowType = 'NoSuchWorkflow'")).count == 0


class TlsProxy:
    """A TLS endpoint that demands a client certificate signed by the test CA and passes
    the bytes on to a plain Temporal frontend."""

    def __init__(self, pki: Pki, upstream: str) -> None:
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(pki.server_cert, pki.server_key)
        self._context.load_verify_locations(pki.ca)
        self._context.verify_mode = ssl.CERT_REQUIRED
        self._context.set_alpn_protocols(["h2"])
        host, port = upstream.rsplit(":", 1)
        self._upstream = (host, int(port))
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.address = ""

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self._context)
        self.address = f"127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._writers -= {writer, up_writer}

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def tls_proxy(pki: Pki, local_env: WorkflowEnvironment) -> AsyncIterator[TlsProxy]:
    proxy = TlsProxy(pki, _target(local_env))
    await proxy.start()
    yield proxy
    await proxy.stop()


@contextlib.contextmanager
def _quiet_asyncio() -> Iterator[None]:
    """The proxy's refused handshakes are expected; keep asyncio from logging them."""
    logger = logging.getLogger("asyncio")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


async def test_connect_uses_mutual_tls_from_the_standard_variables(
    temporal_env: pytest.MonkeyPatch, pki: Pki, tls_proxy: TlsProxy
) -> None:
    temporal_env.setenv("TEMPORAL_ADDRESS", tls_proxy.address)
    temporal_env.setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", str(pki.ca))
    temporal_env.setenv("TEMPORAL_TLS_SERVER_NAME", SERVER_NAME)
    with _quiet_asyncio(), pytest.raises(RuntimeError, match="connect"):
        await connect(Settings())  # no client certificate: the proxy refuses
    temporal_env.setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", str(pki.client_cert))
    temporal_env.setenv("TEMPORAL_TLS_CLIENT_KEY_PATH", str(pki.client_key))
    client = await connect(Settings())
    assert (await client.count_workflows("WorkflowType = 'NoSuchWorkflow'")).count == 0


async def test_connect_uses_mutual_tls_from_the_deprecated_variables(
    temporal_env: pytest.MonkeyPatch, pki: Pki, tls_proxy: TlsProxy
) -> None:
    temporal_env.setenv("TEMPORAL_ADDRESS", tls_proxy.address)
    temporal_env.setenv("TEMPORAL_TLS", "true")
    temporal_env.setenv("TEMPORAL_TLS_CA_FILE", str(pki.ca))
    temporal_env.setenv("TEMPORAL_TLS_CERT_FILE", str(pki.client_cert))
    temporal_env.setenv("TEMPORAL_TLS_KEY_FILE", str(pki.client_key))
    with _quiet_asyncio(), pytest.raises(RuntimeError, match="connect"):
        await connect(Settings())  # the proxy's certificate is for SERVER_NAME, not 127.0.0.1
    temporal_env.setenv("TEMPORAL_TLS_SERVER_NAME", SERVER_NAME)
    client = await connect(Settings())
    assert (await client.count_workflows("WorkflowType = 'NoSuchWorkflow'")).count == 0
