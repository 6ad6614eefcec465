"""Helpers for agency tests: the simulator's admin API and a directory pointing at it."""

from __future__ import annotations

from typing import Any

import httpx

from activities.config import AgencyDirectory
from cases import Agency


class SimulatorAdmin:
    """The simulator's admin API, as a test uses it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._http = httpx.AsyncClient(base_url=url, timeout=5)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def set_behaviour(self, target: str, **behaviour: Any) -> httpx.Response:
        return await self._http.put(f"/_admin/agencies/{target}/behaviour", json=behaviour)

    async def received(self, target: str | None = None) -> list[dict[str, Any]]:
        params = {"agency": target} if target else {}
        return (await self._http.get("/_admin/received", params=params)).json()

    async def created(self, target: str | None = None) -> list[dict[str, Any]]:
        params = {"agency": target} if target else {}
        return (await self._http.get("/_admin/created", params=params)).json()

    async def replies(self, target: str | None = None) -> list[dict[str, Any]]:
        params = {"agency": target} if target else {}
        return (await self._http.get("/_admin/replies", params=params)).json()

    async def reset(self) -> None:
        (await self._http.post("/_admin/reset")).raise_for_status()

    @property
    def http(self) -> httpx.AsyncClient:
        return self._http


def directory_for(
    url: str,
    *,
    request_timeout_seconds: float = 2.0,
    agencies: dict[str, dict[str, Any]] | None = None,
) -> AgencyDirectory:
    """Every agency pointed at the simulator at ``url``, with per-agency ``agencies`` overrides."""
    overrides = agencies or {}
    return AgencyDirectory.from_mapping(
        {
            "defaults": {
                "request_timeout_seconds": request_timeout_seconds,
                "connect_timeout_seconds": 1.0,
                "heartbeat_interval_seconds": 0.1,
                "retry": {"max_attempts": 5, "initial_interval_seconds": 0.05},
            },
            "agencies": {
                agency.value: {
                    "base_url": f"{url}/agencies/{agency.value}",
                    **overrides.get(agency.value, {}),
                }
                for agency in Agency
            },
        }
    )
