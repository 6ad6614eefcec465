"""The read models kept from the event stream: ``case_summary``, ``open_consultations``,
``deadlines``, ``disclosures`` and ``board`` (the coordinator board and compliance report). `eventstore.projector.Projector` runs them."""

from .base import Change, Projection
from .board import BoardProjection
from .case_summary import CaseSummaryProjection
from .deadlines import DeadlinesProjection
from .disclosures import DisclosuresProjection
from .open_consultations import OpenConsultationsProjection


def default_projections() -> list[Projection]:
    """Every projection Samverkan keeps, in the order the projector runs them."""
    return [
        CaseSummaryProjection(),
        OpenConsultationsProjection(),
        DeadlinesProjection(),
        DisclosuresProjection(),
        BoardProjection(),
    ]


__all__ = [
    "BoardProjection",
    "CaseSummaryProjection",
    "Change",
    "DeadlinesProjection",
    "DisclosuresProjection",
    "OpenConsultationsProjection",
    "Projection",
    "default_projections",
]
