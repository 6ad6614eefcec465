"""``samverkan gateway``, ``samverkan agency add|revoke|list`` and ``samverkan keys …``.

- ``gateway`` serves the agency API (``SAMVERKAN_GATEWAY_PORT``, 8250) and, on a listener of
  its own (``SAMVERKAN_CODEC_PORT``, 8251), the Web UI's codec endpoint, which needs the OIDC
  settings (docs/security.md); ``--no-codec`` serves the agency API alone;
- ``agency add NAME`` prints a new API key **once** (only its hash is stored); ``agency
  revoke NAME`` revokes every key of the agency; ``agency list`` shows prefixes and dates;
- ``keys shred CASE_NUMBER`` destroys the case's data key (crypto-shredding: its Temporal
  payloads and personal event fields become unreadable, the audit trail stays);
  ``keys purge-due`` is the retention step: it shreds the keys of closed cases whose purge
  date has passed (`samverkan.retention`); ``keys rotate`` re-wraps every data key with the
  active master key; ``keys new-master KID`` prints a new ``SAMVERKAN_MASTER_KEYS`` entry and
  ``keys new-attestation KID`` a new ``SAMVERKAN_AGENCY_ATTESTATION_KEYS`` entry.

Database from ``DATABASE_URL``, master keys from ``SAMVERKAN_MASTER_KEYS``; ``gateway`` also
needs ``SAMVERKAN_AGENCY_ATTESTATION_KEYS`` (it signs every agency update). Operator errors
end in one sentence on stderr and exit code 2; no key material or DSN is ever printed except
the new agency key (once) and a new master-key or attestation-key entry (asked for).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import asyncpg
import typer

from cases import Agency
from infra.keys import CaseKeys, KeyError_, MasterKeys, PostgresDataKeyStore, case_scope
from samverkan.commands import database_url, fail

if TYPE_CHECKING:
    from cases import Policy
    from infra.attestation import AttestationKeys
    from samverkan.retention import PurgeReport

T = TypeVar("T")


def _master_keys() -> MasterKeys:
    try:
        return MasterKeys.from_env()
    except KeyError_ as exc:
        raise fail(f"{exc}.") from None


def _attestation_keys() -> AttestationKeys:
    from infra.attestation import KEYS_ENV, AttestationConfigError, AttestationKeys
    from infra.settings import get_settings

    secret = get_settings().samverkan_agency_attestation_keys
    try:
        keys = AttestationKeys.from_setting(secret.get_secret_value() if secret else None)
    except AttestationConfigError as exc:
        raise fail(f"{exc}; the gateway does not start.") from None
    if keys is None:
        raise fail(
            f"{KEYS_ENV} is not set: the gateway signs every agency update with it and the "
            "workers refuse unsigned ones (docs/security.md); the gateway does not start."
        )
    return keys


def _with_pool(work: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    from infra.credentials import TokenIssuerError
    from infra.temporal_client import TemporalConfigError

    async def run() -> T:
        pool = await asyncpg.create_pool(database_url(), min_size=1, max_size=4)
        try:
            return await work(pool)
        finally:
            await pool.close()

    try:
        return asyncio.run(run())
    except typer.Exit:
        raise
    except (KeyError_, TokenIssuerError, TemporalConfigError) as exc:
        raise fail(f"{exc}.") from None
    except asyncpg.UndefinedTableError:
        raise fail("The tables are missing: run `samverkan migrate` first.") from None
    except (OSError, asyncpg.PostgresError) as exc:
        raise fail(f"Cannot use the database ({type(exc).__name__}).") from None


def _agency(name: str) -> Agency:
    try:
        return Agency(name)
    except ValueError:
        known = ", ".join(a.value for a in Agency)
        raise fail(f"Unknown agency {name!r}; known: {known}.") from None


def _policy(path: Path | None) -> Policy:
    from cases import Policy, PolicyError
    from infra.settings import get_settings

    path = path or get_settings().samverkan_policy_file
    if path is None:
        return Policy.default()
    try:
        return Policy.from_toml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise fail(f"The policy file {path} cannot be read ({exc.strerror}).") from None
    except PolicyError as exc:
        raise fail(f"The policy file {path}: {exc}.") from None


def _print_purge_report(report: PurgeReport) -> None:
    from samverkan.retention import Verdict

    doing = "would shred" if report.dry_run else "shredded"
    for case in report.with_verdict(Verdict.DUE):
        typer.echo(
            f"{doing} case {case.case_number} (purge date {case.purge_date}, "
            f"{case.category.value if case.category else '-'})"
        )
    for case in report.with_verdict(Verdict.UNREADABLE):
        typer.echo(f"kept case {case.case_number}: its personal data does not decrypt", err=True)
    if not report.dry_run:
        typer.echo(f"{report.intake_keys_shredded} unadopted intake key(s) shredded.")
    counts = report.counts()
    typer.echo(
        f"{len(report.cases)} closed case(s) as of {report.today}: "
        f"{counts[Verdict.DUE]} {doing}, {counts[Verdict.NOT_DUE]} not yet due, "
        f"{counts[Verdict.EXEMPT]} exempt, {counts[Verdict.ALREADY_SHREDDED]} shredded before, "
        f"{counts[Verdict.UNREADABLE]} unreadable."
    )


def register(app: typer.Typer) -> None:
    """Add ``gateway``, ``agency`` and ``keys`` to the ``samverkan`` app."""
    agency_app = typer.Typer(help="Agency API keys for the gateway.", no_args_is_help=True)
    keys_app = typer.Typer(
        help="Data keys: shredding and master-key rotation.", no_args_is_help=True
    )
    app.add_typer(agency_app, name="agency")
    app.add_typer(keys_app, name="keys")

    @app.command("gateway")
    def gateway_command(
        host: Annotated[
            str | None,
            typer.Option(help="Address to listen on (default SAMVERKAN_GATEWAY_HOST, loopback)."),
        ] = None,
        port: Annotated[
            int | None, typer.Option(help="Port (default SAMVERKAN_GATEWAY_PORT).")
        ] = None,
        codec_host: Annotated[
            str | None,
            typer.Option(help="Codec listener address (default SAMVERKAN_CODEC_HOST, loopback)."),
        ] = None,
        codec_port: Annotated[
            int | None, typer.Option(help="Codec listener port (default SAMVERKAN_CODEC_PORT).")
        ] = None,
        no_codec: Annotated[
            bool, typer.Option("--no-codec", help="Serve the agency API only, no codec listener.")
        ] = False,
    ) -> None:
        """Serve the agency API (/v1) and, on its own port, the codec endpoint (/codec) until
        Ctrl-C."""
        from gateway import GatewaySettings, serve
        from gateway.codec_routes import CodecNotConfigured, codec_access
        from infra.settings import get_settings
        from infra.temporal_client import connect

        master = _master_keys()
        attestation = _attestation_keys()
        settings = GatewaySettings()
        given = {
            "samverkan_gateway_host": host,
            "samverkan_gateway_port": port,
            "samverkan_codec_host": codec_host,
            "samverkan_codec_port": codec_port,
        }
        settings = settings.model_copy(update={k: v for k, v in given.items() if v is not None})
        if not no_codec:
            try:
                codec_access(settings)  # refuse before connecting to anything
            except CodecNotConfigured as exc:
                raise fail(f"{exc}; or pass --no-codec to serve the agency API alone.") from None

        async def run(pool: asyncpg.Pool) -> None:
            from gateway.server import check_master_keys
            from infra.metrics import runtime_with_metrics

            # Before Temporal: wrong master keys end here in one sentence (`_with_pool`).
            await check_master_keys(pool, master)
            shell = get_settings()
            runtime = runtime_with_metrics(shell.samverkan_metrics_bind)
            client = await connect(shell, runtime=runtime)
            await serve(
                client=client,
                pool=pool,
                master_keys=master,
                attestation_keys=attestation,
                settings=settings,
                meter=runtime.metric_meter if shell.samverkan_metrics_bind else None,
                codec=not no_codec,
            )

        with contextlib.suppress(KeyboardInterrupt):
            _with_pool(run)

    @agency_app.command("add")
    def agency_add(name: Annotated[str, typer.Argument(help="Agency, e.g. police.")]) -> None:
        """Create an API key for NAME and print it once (store it in the agency's system)."""
        from gateway.credentials import AgencyCredentials

        agency = _agency(name)
        key = _with_pool(lambda pool: AgencyCredentials(pool).issue(agency))
        typer.echo(key)
        typer.echo("This key is shown once; only its hash is stored.", err=True)

    @agency_app.command("revoke")
    def agency_revoke(name: Annotated[str, typer.Argument(help="Agency, e.g. police.")]) -> None:
        """Revoke every live API key of NAME at once."""
        from gateway.credentials import AgencyCredentials

        agency = _agency(name)
        count = _with_pool(lambda pool: AgencyCredentials(pool).revoke(agency))
        typer.echo(f"Revoked {count} key(s) of {agency.value}.")

    @agency_app.command("list")
    def agency_list() -> None:
        """List API keys by agency: prefix, created, revoked."""
        from gateway.credentials import AgencyCredentials

        for info in _with_pool(lambda pool: AgencyCredentials(pool).list()):
            revoked = info.revoked_at.isoformat() if info.revoked_at else "live"
            typer.echo(
                f"{info.agency}\t{info.key_prefix}…\t{info.created_at.isoformat()}\t{revoked}"
            )

    @keys_app.command("shred")
    def keys_shred(
        case_number: Annotated[str, typer.Argument(help="The case number (not the workflow id).")],
        yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    ) -> None:
        """Destroy the case's data key: its personal data becomes unreadable for good."""
        if not yes:
            typer.confirm(f"Destroy the data key of case {case_number} for good?", abort=True)
        master = _master_keys()

        async def shred(pool: asyncpg.Pool) -> str:
            keys = CaseKeys(master_keys=master, store=PostgresDataKeyStore(pool))
            stored = await keys.shred(case_scope(case_number))
            return stored.key_id if stored else "-"

        key_id = _with_pool(shred)
        typer.echo(f"Shredded data key {key_id} of case {case_number}.")

    @keys_app.command("purge-due")
    def keys_purge_due(
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Report what is due; shred nothing.")
        ] = False,
        today: Annotated[
            str | None,
            typer.Option(help="Judge as of this date, YYYY-MM-DD (default: today in Stockholm)."),
        ] = None,
        policy_file: Annotated[
            Path | None,
            typer.Option(help="Policy TOML (default SAMVERKAN_POLICY_FILE, else the default)."),
        ] = None,
    ) -> None:
        """Retention: shred the keys of closed cases whose purge date has passed, and the
        codec endpoint's intake keys no case adopted within 24 hours.

        Exempt categories (placement, research sample) are never purged; a case whose
        personal data does not decrypt is kept and reported (exit code 1). Safe to re-run.
        """
        from samverkan.retention import Verdict, purge_due, stockholm_today

        try:
            as_of = date.fromisoformat(today) if today is not None else stockholm_today()
        except ValueError:
            raise fail(f"--today {today!r} is not a date (YYYY-MM-DD).") from None
        policy = _policy(policy_file)
        master = _master_keys()

        async def run(pool: asyncpg.Pool) -> PurgeReport:
            keys = CaseKeys(master_keys=master, store=PostgresDataKeyStore(pool))
            return await purge_due(pool, keys, policy=policy, today=as_of, dry_run=dry_run)

        report = _with_pool(run)
        _print_purge_report(report)
        if report.counts()[Verdict.UNREADABLE]:
            raise typer.Exit(1)

    @keys_app.command("rotate")
    def keys_rotate() -> None:
        """Re-wrap every data key with the active (first) master key of SAMVERKAN_MASTER_KEYS."""
        master = _master_keys()
        count = _with_pool(
            lambda pool: CaseKeys(
                master_keys=master, store=PostgresDataKeyStore(pool)
            ).rotate_master()
        )
        typer.echo(f"Re-wrapped {count} data key(s) with master key {master.active_id}.")

    @keys_app.command("new-master")
    def keys_new_master(
        kid: Annotated[str, typer.Argument(help="Id of the new master key.")],
    ) -> None:
        """Print a new master-key entry to put first in SAMVERKAN_MASTER_KEYS."""
        try:
            typer.echo(MasterKeys.generate_entry(kid))
        except KeyError_ as exc:
            raise fail(f"{exc}.") from None

    @keys_app.command("new-attestation")
    def keys_new_attestation(
        kid: Annotated[str, typer.Argument(help="Id of the new attestation key.")],
    ) -> None:
        """Print a new entry to put first in SAMVERKAN_AGENCY_ATTESTATION_KEYS (workers first,
        then gateways; docs/security.md)."""
        from infra.attestation import AttestationConfigError, AttestationKeys

        try:
            typer.echo(AttestationKeys.generate_entry(kid))
        except AttestationConfigError as exc:
            raise fail(f"{exc}.") from None
