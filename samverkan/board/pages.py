"""The board and the compliance report as HTML: plain server-rendered pages, inline CSS, no
script, nothing fetched from elsewhere. Every value is escaped; none is personal data."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from html import escape
from urllib.parse import quote

from cases.workdays import STOCKHOLM

from .compliance import SHARE_KINDS, Compliance
from .queries import STATE_WORDS, Board

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1d2733; max-width: 72rem; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 1.6rem; }
table { border-collapse: collapse; margin: .4rem 0; }
th, td { border-bottom: 1px solid #d6dde4; padding: .25rem .6rem; text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #5a6875; font-size: .9rem; }
.late { color: #a0251b; font-weight: 600; }
.open-access { background: #fff4d6; border: 1px solid #e0b44a; padding: .4rem .7rem; }
figure { margin: .6rem 0; } svg { max-width: 100%; height: auto; }
"""


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _when(moment: datetime) -> str:
    return moment.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")


def _table(head: Iterable[str], rows: Iterable[Iterable[str]], numeric: Iterable[int] = ()) -> str:
    right = set(numeric)
    cells = "".join(
        f"<th{' class=n' if i in right else ''}>{escape(h)}</th>" for i, h in enumerate(head)
    )
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=n' if i in right else ''}>{c}</td>" for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def case_link(ui_url: str, namespace: str, case_number: str) -> str:
    """The case's page in the Temporal Web UI, as a link showing its number."""
    href = (
        f"{ui_url.rstrip('/')}/namespaces/{quote(namespace, safe='')}"
        f"/workflows/{quote('case-' + case_number, safe='')}"
    )
    return f'<a class=case href="{escape(href)}">{escape(case_number)}</a>'


def municipality_path(municipality: str) -> str:
    """The board's path of ``municipality``."""
    return f"/m/{quote(municipality, safe='')}"


def index_page(names: list[str], open_note: str) -> str:
    """The municipalities the operator may see."""
    items = "".join(
        f'<li><a href="{escape(municipality_path(n))}">{escape(n)}</a></li>' for n in names
    )
    body = f"<h1>Coordinator board</h1>{open_note}<ul>{items or '<li>none</li>'}</ul>"
    return _page("Coordinator board", body)


def board_page(board: Board, ui_url: str, namespace: str, open_note: str = "") -> str:
    """One municipality's board."""

    def link(number: str) -> str:
        return case_link(ui_url, namespace, number)

    path = municipality_path(board.municipality)
    parts = [
        f"<h1>Coordinator board: {escape(board.municipality)}</h1>",
        open_note,
        f"<p class=note>As of {_when(board.now)} (Swedish time). "
        f'<a href="{escape(path)}/compliance">Compliance over time</a></p>',
        f"<section id=open-by-state><h2>Open cases by state ({board.open_cases})</h2>",
        _table(
            ["State", "Cases"],
            [[escape(STATE_WORDS.get(s, s)), str(n)] for s, n in board.open_by_state],
            numeric=[1],
        ),
        "</section>",
        f"<section id=due-soon><h2>Due in the next 7 days ({len(board.due_soon)})</h2>",
        _table(
            ["Case", "Deadline", "Due"],
            [
                [link(d.case_number), escape(d.deadline), _when(d.legal_latest)]
                for d in board.due_soon
            ],
        ),
        "</section>",
        f"<section id=overdue><h2>Overdue ({len(board.overdue)})</h2>",
        _table(
            ["Case", "Deadline", "Was due", "Working days late", "Legal reference"],
            [
                [
                    link(d.case_number),
                    escape(d.deadline),
                    _when(d.legal_latest),
                    f"<span class=late>{d.working_days_late}</span>",
                    escape(d.legal_reference or "agreed time"),
                ]
                for d in board.overdue
            ],
            numeric=[3],
        ),
        "</section>",
        "<section id=waiting><h2>Consultations waiting per agency</h2>",
    ]
    if not board.waiting:
        parts.append("<p class=note>None waiting.</p>")
    for agency, waiting in board.waiting.items():
        parts.append(f"<h3>{escape(agency)} ({len(waiting)})</h3>")
        parts.append(
            _table(
                ["Case", "Consultation", "Status", "Requested", "Age (days)"],
                [
                    [
                        link(w.case_number),
                        escape(w.consultation),
                        escape(w.status),
                        _when(w.requested_at),
                        f"{w.age_days:.1f}",
                    ]
                    for w in waiting
                ],
                numeric=[4],
            )
        )
    parts += [
        "</section>",
        "<section id=escalated>",
        f"<h2>Escalations raised and not yet resolved ({len(board.escalated)})</h2>",
        _table(
            ["Case", "Deadline", "Rungs raised", "Highest rung", "Due"],
            [
                [
                    link(e.case_number),
                    escape(e.deadline),
                    str(e.rungs),
                    str(e.highest_rung + 1),
                    _when(e.legal_latest),
                ]
                for e in board.escalated
            ],
            numeric=[2, 3],
        ),
        "</section>",
    ]
    return _page(f"Coordinator board: {board.municipality}", "".join(parts))


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{100 * share:.0f}%"


def _days(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def report_body(compliance: Compliance, plots: dict[str, str]) -> str:
    """The figures, each plot with the table behind it and the legal references cited."""
    parts = [
        f"<p class=note>Months {compliance.months[0]} to {compliance.months[-1]} "
        f"(days {compliance.start.isoformat()} to {compliance.end.isoformat()}, Swedish time), "
        f"as of {_when(compliance.as_of)}. A deadline counts in its month's share once decided, "
        "or once overdue; one not yet due counts nowhere.</p>"
    ]
    for kind, title in SHARE_KINDS.items():
        rows = compliance.shares[kind]
        cited = compliance.references.get(kind, [])
        references = (
            "; ".join(f"{escape(ref)} ({n} deadlines)" for ref, n in cited) or "none recorded"
        )
        head = ["Month", "Counted", "On time", "Share"]
        extended = kind == "investigation"
        if extended:
            head.append("Extended")
        parts += [
            f"<section id={kind}><h2>{escape(title)}</h2>",
            f"<p class=note>Legal reference: {references}</p>",
            f"<figure>{plots[kind]}</figure>",
            _table(
                head,
                [
                    [r.month, str(r.counted), str(r.on_time), _percent(r.share)]
                    + ([str(r.extended)] if extended else [])
                    for r in rows
                ],
                numeric=[1, 2, 3, 4],
            ),
            "</section>",
        ]
    parts += [
        "<section id=consultations><h2>Consultation answer time per agency</h2>",
        "<p class=note>Days from request to answer, of consultations requested in the month "
        "(nearest-rank percentile). Consultations are agreed time limits, not statutory.</p>",
        f"<figure>{plots['consultations']}</figure>",
        _table(
            [
                "Month",
                "Agency",
                "Answered",
                "Median",
                "90th percentile",
                "Ended unanswered",
                "Waiting",
            ],
            [
                [
                    r.month,
                    escape(r.agency),
                    str(r.answered),
                    _days(r.median_days),
                    _days(r.p90_days),
                    str(r.ended_otherwise),
                    str(r.waiting),
                ]
                for r in compliance.answers
            ],
            numeric=[2, 3, 4, 5, 6],
        ),
        "</section>",
        "<section id=reports><h2>Reports received</h2>",
        f"<figure>{plots['reports']}</figure>",
        _table(["Month", "Reports"], [[m, str(n)] for m, n in compliance.reports], numeric=[1]),
        "</section>",
    ]
    return "".join(parts)


def report_page(compliance: Compliance, plots: dict[str, str], note: str = "") -> str:
    """The compliance report as one self-contained HTML document."""
    title = f"Compliance report: {compliance.municipality}"
    return _page(title, f"<h1>{escape(title)}</h1>{note}" + report_body(compliance, plots))


def all_plots(compliance: Compliance) -> dict[str, str]:
    """Every plot of the report, by section."""
    from .plots import answer_plot, reports_plot, share_plot

    plots = {kind: share_plot(compliance, kind) for kind in SHARE_KINDS}
    plots["consultations"] = answer_plot(compliance)
    plots["reports"] = reports_plot(compliance)
    return plots
