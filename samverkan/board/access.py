"""Who may see which municipality's board: the operators' OIDC bearer token of the codec
endpoint (`gateway.oidc`), with ``<namespace>:<role>`` permissions. A municipality's board
shows to an operator with ``read``, ``write`` or ``admin`` on that municipality's namespace
(``SAMVERKAN_BOARD_NAMESPACES``: ``Municipality=namespace,…``). In ``samverkan dev`` the
board is open, on loopback only, and every page says so."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.config import GatewaySettings, is_loopback
from gateway.oidc import CodecAccess, DevOpenAccess, Principal


class BoardSettings(BaseSettings):
    """The board's own settings (the OIDC ones are the codec endpoint's, `GatewaySettings`)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    samverkan_board_host: str = "127.0.0.1"
    samverkan_board_port: int = 8252
    samverkan_board_dev_open: bool = False
    samverkan_board_namespaces: str = Field(
        default="",
        description="each municipality's Temporal namespace: 'Malmö=samverkan-malmo,…'",
    )
    samverkan_ui_url: str = Field(
        default="http://127.0.0.1:8233", description="the Temporal Web UI the cases link to"
    )

    def namespace_map(self) -> dict[str, str]:
        """``{municipality: namespace}`` from ``samverkan_board_namespaces``."""
        pairs = (item.partition("=") for item in self.samverkan_board_namespaces.split(","))
        return {m.strip(): ns.strip() for m, sep, ns in pairs if sep and m.strip() and ns.strip()}


class BoardNotConfigured(Exception):
    """The board has no way to authenticate operators (one sentence, settings only)."""


def board_access(board: BoardSettings, gateway: GatewaySettings) -> CodecAccess:
    """OIDC when the codec's issuer, audience and JWKS are set; open access only when asked
    for (``SAMVERKAN_BOARD_DEV_OPEN``) and on a loopback address.

    Raises:
        BoardNotConfigured: neither, or open access on a non-loopback address.
    """
    verifier = gateway.oidc_verifier()
    if verifier is not None:
        return verifier
    if board.samverkan_board_dev_open:
        if not is_loopback(board.samverkan_board_host):
            raise BoardNotConfigured(
                "SAMVERKAN_BOARD_DEV_OPEN serves the board without authentication and is allowed "
                f"on a loopback address only, not {board.samverkan_board_host}"
            )
        return DevOpenAccess()
    raise BoardNotConfigured(
        "the board needs the operators' sign-on: SAMVERKAN_CODEC_OIDC_ISSUER, "
        "SAMVERKAN_CODEC_OIDC_AUDIENCE and SAMVERKAN_CODEC_OIDC_JWKS_URL (as the codec endpoint)"
    )


class Namespaces:
    """Maps a municipality to its namespace; unmapped ones go to ``fallback`` (dev only)."""

    def __init__(self, mapping: dict[str, str], fallback: str | None = None) -> None:
        self._mapping = dict(mapping)
        self._fallback = fallback

    def of(self, municipality: str) -> str | None:
        """The namespace of ``municipality``; None when it has none."""
        return self._mapping.get(municipality, self._fallback)

    def visible(self, principal: Principal, municipality: str) -> str | None:
        """The namespace of ``municipality`` if ``principal`` may read it, else None."""
        namespace = self.of(municipality)
        if namespace is None or not principal.may(namespace, "decode"):
            return None
        return namespace
