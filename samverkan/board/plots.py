"""The compliance figures as inline SVG, drawn by matplotlib offline (no pyplot, no CDN, no
script): text stays text, ids are stable, so a report is one self-contained file."""

from __future__ import annotations

import io

import matplotlib
from matplotlib.figure import Figure

from .compliance import SHARE_KINDS, Compliance

matplotlib.rcParams.update(
    {
        "svg.fonttype": "none",
        "svg.hashsalt": "samverkan",
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
)


def _svg(figure: Figure) -> str:
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = out.getvalue()
    return text[text.index("<svg") :]


def _figure() -> Figure:
    return Figure(figsize=(6.4, 2.6), layout="constrained")


def share_plot(compliance: Compliance, kind: str) -> str:
    """Bars of the monthly share on time (percent), with the number counted above each."""
    rows = compliance.shares[kind]
    figure = _figure()
    axes = figure.add_subplot()
    values = [100 * r.share if r.share is not None else 0.0 for r in rows]
    bars = axes.bar([r.month for r in rows], values, color="#2f6f9f")
    for bar, row in zip(bars, rows, strict=True):
        label = f"n={row.counted}" if row.counted else "none"
        axes.annotate(
            label,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=7,
        )
    axes.set_ylim(0, 110)
    axes.set_ylabel("% on time")
    axes.set_title(SHARE_KINDS[kind], loc="left")
    axes.tick_params(axis="x", labelrotation=45)
    return _svg(figure)


def answer_plot(compliance: Compliance) -> str:
    """Median (solid) and 90th percentile (dashed) days to answer, one colour per agency."""
    figure = _figure()
    axes = figure.add_subplot()
    months = compliance.months
    agencies = sorted({r.agency for r in compliance.answers})
    for index, agency in enumerate(agencies):
        colour = f"C{index}"
        rows = {r.month: r for r in compliance.answers if r.agency == agency}
        medians = [rows[m].median_days if m in rows else None for m in months]
        p90s = [rows[m].p90_days if m in rows else None for m in months]
        axes.plot(
            months,
            [float("nan") if v is None else v for v in medians],
            marker="o",
            color=colour,
            label=f"{agency} median",
        )
        axes.plot(
            months,
            [float("nan") if v is None else v for v in p90s],
            marker="x",
            linestyle="--",
            color=colour,
            label=f"{agency} 90th percentile",
        )
    if not agencies:
        axes.plot(months, [float("nan")] * len(months))
        axes.text(0.5, 0.5, "no answered consultations", transform=axes.transAxes, ha="center")
    axes.set_ylim(bottom=0)
    axes.set_ylabel("days to answer")
    axes.set_title("Consultation answer time per agency", loc="left")
    axes.tick_params(axis="x", labelrotation=45)
    if agencies:
        axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _svg(figure)


def reports_plot(compliance: Compliance) -> str:
    """Bars of reports received per month."""
    figure = _figure()
    axes = figure.add_subplot()
    axes.bar(
        [m for m, _ in compliance.reports], [n for _, n in compliance.reports], color="#6f8f3f"
    )
    axes.set_ylabel("reports")
    axes.set_title("Reports received", loc="left")
    axes.tick_params(axis="x", labelrotation=45)
    return _svg(figure)
