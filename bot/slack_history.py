"""Finding a message we may already have posted, by the metadata it carries.

A post whose answer was lost (Slack answered 5xx after posting, a dropped connection, a process
that died before recording it) may or may not be in the conversation. Every post that could be
retried carries metadata naming what it is, so before posting again the sender reads the
conversation back and, if the message is there, records it instead of posting a second time.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import ConnectionErrorRetryHandler

HISTORY_PAGE = 200
MAX_PAGES = 10  # 2,000 messages since the attempt: far more than a DM or channel gets in minutes


def find_posted(
    client: WebClient, *, channel: str, since: datetime, event_type: str, payload: dict
) -> dict | None:
    """The message in `channel` at or after `since` whose metadata has `event_type` and includes `payload`.

    Raises SlackApiError when the history can't be read: the caller must then neither post nor
    give up, since it still doesn't know whether the message is there.
    """
    cursor = None
    for _ in range(MAX_PAGES):
        page = client.conversations_history(
            channel=channel, oldest=f"{since.timestamp():.6f}", include_all_metadata=True,
            limit=HISTORY_PAGE, cursor=cursor,
        )
        for message in page.get("messages", []):
            metadata = message.get("metadata") or {}
            carried = metadata.get("event_payload") or {}
            if metadata.get("event_type") == event_type and all(carried.get(k) == v for k, v in payload.items()):
                return message
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not page.get("has_more") or not cursor:
            return None
    return None


def may_have_posted(error: Exception) -> bool:
    """Whether a failed post may nonetheless have gone out: a 5xx, or no answer from Slack at all.

    An answer of ok:false or 429 means Slack refused it, so nothing was posted.
    """
    if isinstance(error, SlackApiError):
        return error.response is None or error.response.status_code >= 500
    return True


# Whether a 429 is waited out inside the client (bot.container.RetryAfterHandler reads it). The outbox turns it off
# while it delivers: a worker that sleeps out one workspace's Retry-After holds up every other workspace's messages,
# so it pauses that workspace instead and moves on (bot.outbox.Outbox.deliver_due).
WAIT_OUT_RATE_LIMITS: ContextVar[bool] = ContextVar("crossfeed_wait_out_rate_limits", default=True)


def without_connection_retries(client: WebClient) -> WebClient:
    """The same client, except that a dropped connection is not retried by the client itself.

    slack-sdk's ConnectionErrorRetryHandler repeats a request whose connection was reset, which for
    chat.postMessage may post twice; the caller instead treats it as "may have posted" and looks first.
    """
    handlers = [h for h in client.retry_handlers if not isinstance(h, ConnectionErrorRetryHandler)]
    return type(client)(token=client.token, base_url=client.base_url, timeout=client.timeout, ssl=client.ssl,
                     proxy=client.proxy, headers=client.headers, retry_handlers=handlers)
