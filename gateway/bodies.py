"""Reading and parsing request bodies within bounds: size, then JSON nesting depth.

`read_body` refuses a body whose ``Content-Length`` is over the limit before reading any of
it, and stops reading a streamed (chunked) body as soon as the limit is passed, so a large
body never sits in memory. `parse_json` refuses JSON nested deeper than `MAX_JSON_DEPTH`
(the C decoder's ``RecursionError`` included) instead of letting it reach validation.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

#: The deepest JSON nesting accepted in a request body (an object or array is one level).
#: The agency API's bodies are flat objects.
MAX_JSON_DEPTH = 32


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


class JsonTooDeep(ValueError):
    """The JSON nests deeper than the limit."""


class JsonInvalid(ValueError):
    """The body is not JSON (or not UTF-8)."""


def _deeper_than(value: Any, limit: int) -> bool:
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


def parse_json(raw: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``raw`` parsed as JSON, at most ``max_depth`` levels deep.

    Raises:
        JsonInvalid: not JSON. JsonTooDeep: nested deeper than ``max_depth``.
    """
    try:
        data = json.loads(raw)
    except RecursionError:  # the C decoder gives up at the interpreter's recursion limit
        raise JsonTooDeep from None
    except (ValueError, UnicodeDecodeError):
        raise JsonInvalid from None
    if _deeper_than(data, max_depth):
        raise JsonTooDeep
    return data
