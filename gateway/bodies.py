"""Reading request bodies within a size limit.

`read_body` refuses a body whose ``Content-Length`` is over the limit before reading any of
it, and stops reading a streamed (chunked) body as soon as the limit is passed, so a large
body never sits in memory.
"""

from __future__ import annotations

from starlette.requests import Request


class BodyTooLarge(Exception):
    """The body is (or was declared) larger than the limit."""


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, read only while it is within ``limit`` bytes.

    Raises:
        BodyTooLarge: ``Content-Length`` over the limit (or not a number; nothing is read),
            or the streamed body passed the limit (reading stops there).
        starlette.requests.ClientDisconnect: the client went away mid-body.
    """
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)
