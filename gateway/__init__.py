"""The agency gateway (HTTP /v1) and the codec endpoints for the Web UI (DESIGN §3, §5, §6).

Public API: `create_app`, `GatewayDeps`, `GatewaySettings`, `serve`,
`AgencyCredentials`, `GatewayRecords`, `Consultations`, `openapi_document`.
"""

from gateway.app import GatewayDeps, create_app
from gateway.config import GatewaySettings
from gateway.consultations import Consultations
from gateway.credentials import AgencyCredentials
from gateway.openapi import openapi_document
from gateway.records import GatewayRecords
from gateway.server import serve

__all__ = [
    "AgencyCredentials",
    "Consultations",
    "GatewayDeps",
    "GatewayRecords",
    "GatewaySettings",
    "create_app",
    "openapi_document",
    "serve",
]
