"""A minimal client of Samverkan's agency API (docs/agencies.md), standard library and httpx.

    export AGENCY_API_KEY=...            # from `samverkan agency add police`
    python docs/examples/agency_client.py --url http://127.0.0.1:8250 list
    python docs/examples/agency_client.py show CONSULTATION_ID
    python docs/examples/agency_client.py acknowledge CONSULTATION_ID
    python docs/examples/agency_client.py answer CONSULTATION_ID "Known to SSPF since 2025."
    python docs/examples/agency_client.py decline CONSULTATION_ID "Not ours to answer."
    python docs/examples/agency_client.py inform CONSULTATION_ID "New information."

It prints the response's JSON and exits 0 on 2xx, 1 otherwise. Each POST gets a new
Idempotency-Key, kept across its retries: a 503 or a lost response is retried with the same
key (the gateway then returns the first result instead of acting twice), and a 429 waits
Retry-After seconds. The key comes from the environment, never the command line (``ps``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from typing import Any

import httpx

#: action -> (path under the consultation, body property or None for an empty body)
ACTIONS = {
    "acknowledge": ("acknowledge", None),
    "answer": ("answer", "answer"),
    "decline": ("decline", "reason"),
    "inform": ("information", "information"),
}


def call(
    client: httpx.Client, method: str, path: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    """One API call, retried on 429 (after Retry-After), 503 and lost responses."""
    headers = {"Idempotency-Key": str(uuid.uuid4())} if method == "POST" else {}
    for attempt in range(5):
        try:
            response = client.request(method, path, json=body, headers=headers)
        except httpx.TransportError:
            if attempt == 4:
                raise
            time.sleep(2**attempt)  # the same Idempotency-Key: acts at most once
            continue
        if response.status_code == 429:
            time.sleep(float(response.headers.get("Retry-After", "1")))
        elif response.status_code == 503:
            time.sleep(2**attempt)
        else:
            return response
    return response


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Samverkan agency API client")
    parser.add_argument("--url", default=os.environ.get("AGENCY_API_URL", "http://127.0.0.1:8250"))
    parser.add_argument("command", choices=["list", "show", *ACTIONS])
    parser.add_argument("consultation_id", nargs="?")
    parser.add_argument("text", nargs="?", help="the answer, reason or information")
    args = parser.parse_args(argv)
    key = os.environ.get("AGENCY_API_KEY")
    if not key:
        parser.error("set AGENCY_API_KEY to the agency's API key")
    if args.command != "list" and not args.consultation_id:
        parser.error(f"{args.command} needs a consultation id")
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=args.url, headers=auth, timeout=30) as client:
        if args.command == "list":
            response = call(client, "GET", "/v1/consultations")
        elif args.command == "show":
            response = call(client, "GET", f"/v1/consultations/{args.consultation_id}")
        else:
            route, field = ACTIONS[args.command]
            if field is not None and not args.text:
                parser.error(f"{args.command} needs the text of its {field}")
            body = {field: args.text} if field is not None else {}
            path = f"/v1/consultations/{args.consultation_id}/{route}"
            response = call(client, "POST", path, body)
    json.dump(response.json(), sys.stdout, ensure_ascii=False, indent=2)
    print()
    return 0 if response.is_success else 1


if __name__ == "__main__":
    sys.exit(main())
