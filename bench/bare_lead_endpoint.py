"""A bare `POST /hooks/leads` as a WSGI `application`: the floor bench/lead_intake.py compares Crossfeed to.

It does what no lead endpoint can skip (read the body, check the signature with slack-sdk's SignatureVerifier,
parse the JSON) and answers 202, storing nothing and routing nothing.
"""

from __future__ import annotations

import json
import os

from slack_sdk.signature import SignatureVerifier

verifier = SignatureVerifier(os.environ["LEAD_WEBHOOK_SECRET"])


def application(environ, start_response):
    if environ.get("PATH_INFO") != "/hooks/leads" or environ.get("REQUEST_METHOD") != "POST":
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]
    raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)).decode()
    if not verifier.is_valid(raw, environ.get("HTTP_X_CROSSFEED_REQUEST_TIMESTAMP"),
                             environ.get("HTTP_X_CROSSFEED_SIGNATURE")):
        status, body = "401 Unauthorized", {"ok": False, "error": "bad signature"}
    else:
        status, body = "202 Accepted", {"ok": True, "lead": json.loads(raw)["id"], "status": "received"}
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
