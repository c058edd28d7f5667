"""Slack Web API calls over kept-alive HTTP connections.

slack-sdk's WebClient sends each call through urllib, which opens a connection, sends
`Connection: close` and shuts it: every chat.postMessage pays a TCP and a TLS handshake with
slack.com (tens of milliseconds, and CPU on both ends). A pulse round's fan-out is thousands of
calls, so Crossfeed's clients keep one connection open per thread and host, as any HTTP client
pool does, and send each call over it.
"""

from __future__ import annotations

import http.client
import io
import os
import select
import threading
import time
from urllib.error import HTTPError, URLError
from urllib.parse import SplitResult, urlsplit
from urllib.request import Request

from slack_sdk import WebClient

# A connection idle this long is opened afresh rather than reused: servers close idle connections
# (Slack's edge after about a minute), and a request sent as the server closes fails in doubt.
IDLE_REUSE_LIMIT = 20.0


class KeptConnections(threading.local):
    """The calling thread's open connections, by (scheme, host, port), each with when it was last used.

    Per thread because an http.client connection carries one request at a time; shared by every
    workspace's client, since the token travels in each request's headers, not in the connection.
    """

    def __init__(self) -> None:
        self.open: dict[tuple[str, str, int | None], tuple[http.client.HTTPConnection, float]] = {}


_kept = KeptConnections()


def _forget_inherited_connections() -> None:
    # A forked child (gunicorn's workers) must not talk over its parent's sockets.
    global _kept
    _kept = KeptConnections()


os.register_at_fork(after_in_child=_forget_inherited_connections)


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """Whether the server closed this idle connection: an idle socket with anything to read has hit EOF (or
    holds bytes nobody asked for); either way it can't carry the next request."""
    poller = select.poll()
    poller.register(connection.sock, select.POLLIN)
    return bool(poller.poll(0))


def _host(parts: SplitResult) -> tuple[str, str, int | None]:
    return parts.scheme, parts.hostname or "", parts.port


def kept_connection(parts: SplitResult, *, timeout: float, ssl) -> http.client.HTTPConnection:
    """The calling thread's open connection to the URL's host, or a new one (it connects on first use)."""
    key = _host(parts)
    kept = _kept.open.get(key)
    if kept is not None:
        connection, last_used = kept
        if connection.sock is None or (time.monotonic() - last_used < IDLE_REUSE_LIMIT
                                       and not _dropped(connection)):
            connection.timeout = timeout  # for its next connect
            if connection.sock is not None:
                connection.sock.settimeout(timeout)  # this client's own (a quick call's is short)
            return connection
        connection.close()
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout, context=ssl)
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    _kept.open[key] = (connection, time.monotonic())
    return connection


class KeepAliveWebClient(WebClient):
    """slack-sdk's WebClient, sending each call over the calling thread's kept-alive connection.

    Only the transport differs: the request slack-sdk built goes out as it is, and an answer comes back
    as urllib would give it (an HTTPError for a status outside 2xx; a URLError when the request could not
    be sent, which slack-sdk's ConnectionErrorRetryHandler may retry; a connection dropped while waiting
    for the answer raised as it is), so retry handlers and error handling behave as with urllib.
    Through a proxy, calls go through urllib as before.
    """

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict:
        parts = urlsplit(url)
        if self.proxy is not None or parts.scheme not in ("http", "https"):
            return super()._perform_urllib_http_request_internal(url, req)
        connection = kept_connection(parts, timeout=self.timeout, ssl=self.ssl)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request(req.get_method(), target, body=req.data, headers=dict(req.header_items()))
        except OSError as error:
            connection.close()
            raise URLError(error) from error
        try:
            response = connection.getresponse()
            body = response.read()
        except Exception:
            connection.close()
            raise
        _kept.open[_host(parts)] = (connection, time.monotonic())  # last used now
        if not 200 <= response.status < 300:
            raise HTTPError(url, response.status, response.reason, response.msg, io.BytesIO(body))
        if response.msg.get_content_type() == "application/gzip":  # admin.analytics.getFile
            return {"status": response.status, "headers": response.msg, "body": body}
        charset = response.msg.get_content_charset() or "utf-8"
        return {"status": response.status, "headers": response.msg, "body": body.decode(charset)}
