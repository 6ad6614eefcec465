"""``samverkan deadline``: when is this due? The operator's view of `cases.compute_deadline`.

Prints one JSON object ``{"kind", "from", "at", "target", "legal_latest", "moved_because",
"calendar", "legal_reference"}`` with ISO dates; ``legal_reference`` is the provision
resolved for the ``--from`` day (`Policy.resolve`) as ``{"cite", ...its fields}``, or null
for a consultation (a local agreement). Without ``--at`` the time of day is assumed to be
00:00 and ``assumed`` says so. A protection assessment adds ``cutoff``: the policy's
cut-off and that it is local practice, not law. Bad input gets one sentence on stderr and
exit code 2.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any

import typer

from cases import STOCKHOLM, Agency, DeadlineKind, Policy, PolicyError, compute_deadline
from samverkan.commands import fail

KINDS = "protection_assessment, pre_assessment, investigation or consultation:<agency>"


def _parse_kind(text: str) -> tuple[DeadlineKind, Agency | None]:
    name, _, agency = text.partition(":")
    try:
        kind = DeadlineKind(name)
    except ValueError:
        raise fail(f"Unknown deadline kind {text!r}: use {KINDS}.") from None
    if kind is DeadlineKind.CONSULTATION:
        agencies = ", ".join(a.value for a in Agency)
        try:
            return kind, Agency(agency)
        except ValueError:
            raise fail(f"A consultation needs its agency, one of: {agencies}.") from None
    if agency:
        raise fail(f"Only a consultation takes an agency: use {KINDS}.")
    return kind, None


ASSUMED_AT = time(0, 0)


def _parse_start(day: str, at: str | None) -> datetime:
    try:
        start_day = date.fromisoformat(day)
    except ValueError:
        raise fail(f"--from {day!r} is not a date: use YYYY-MM-DD.") from None
    clock = ASSUMED_AT
    if at is not None:
        try:
            clock = time.fromisoformat(at)
        except ValueError:
            raise fail(f"--at {at!r} is not a time of day: use HH:MM.") from None
    return datetime.combine(start_day, clock.replace(tzinfo=None), tzinfo=STOCKHOLM)


def _load_policy(path: Path | None) -> Policy:
    if path is None:
        return Policy.default()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise fail(f"The policy file {str(path)!r} cannot be read ({reason}).") from None
    try:
        return Policy.from_toml(text)
    except PolicyError as exc:
        raise fail(f"The policy file {str(path)!r} is not valid: {exc}.") from None


def deadline(
    kind: Annotated[str, typer.Argument(help=f"The deadline: {KINDS}.")],
    from_: Annotated[str, typer.Option("--from", help="The day the period starts (YYYY-MM-DD).")],
    at: Annotated[
        str | None,
        typer.Option("--at", help="Time of day in Stockholm (HH:MM); decides a late report."),
    ] = None,
    policy: Annotated[
        Path | None, typer.Option("--policy", help="A policy TOML file (default: built in).")
    ] = None,
    acute: Annotated[
        bool, typer.Option("--acute", help="An acute consultation (police: 1 working day).")
    ] = False,
) -> None:
    """When is this due? Target, legal latest day and the provision behind it."""
    parsed_kind, agency = _parse_kind(kind)
    start = _parse_start(from_, at)
    rules = _load_policy(policy)
    computed = compute_deadline(parsed_kind, start, policy=rules, agency=agency, acute=acute)
    reference = computed.legal_reference
    out: dict[str, Any] = {
        "kind": kind,
        "from": start.date().isoformat(),
        "at": start.strftime("%H:%M"),
        "target": computed.target.date().isoformat(),
        "legal_latest": computed.legal_latest.date().isoformat(),
        "moved_because": list(computed.moved_because),
        "calendar": computed.calendar,
        "legal_reference": (
            {"cite": reference.label(), **reference.model_dump(mode="json")}
            if reference is not None
            else None
        ),
    }
    if at is None:
        out["assumed"] = (
            f"--at not given: the period is taken to start at {ASSUMED_AT.strftime('%H:%M')} "
            "Stockholm time"
        )
    if parsed_kind is DeadlineKind.PROTECTION_ASSESSMENT:
        out["cutoff"] = {
            "at": rules.time_limits.protection_cutoff.strftime("%H:%M"),
            "basis": rules.time_limits.protection_cutoff_basis,
        }
    typer.echo(json.dumps(out, ensure_ascii=False))


def register(app: typer.Typer) -> None:
    """Add the ``deadline`` command to the ``samverkan`` CLI."""
    app.command(name="deadline", help="When is this due? Prints the deadline as JSON.")(deadline)
