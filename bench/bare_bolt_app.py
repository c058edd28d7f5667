"""A bare Bolt app with a no-op /leadfeedback, as a WSGI `application`: the floor ack_latency.py compares to.

BARE_PROCESS_BEFORE_RESPONSE=1 builds it like Crossfeed (listener answers when it returns);
0 uses Bolt's default mode (the listener runs on a thread and the request polls for ack()).
"""

from __future__ import annotations

import os

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

app = App(
    client=WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]),
    signing_secret=os.environ["SLACK_SIGNING_SECRET"],
    token_verification_enabled=False,
    process_before_response=os.environ.get("BARE_PROCESS_BEFORE_RESPONSE", "1") == "1",
)


@app.command("/leadfeedback")
def no_op(ack):
    ack()


application = SlackRequestHandler(app)
