"""A fake Slack Web API on loopback: records every call, answers like Slack, checks Block Kit."""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import random
import socket
import sys
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MESSAGE_MAX_BLOCKS = 50
DIVIDER = {"type": "divider"}
BOT_USER = "UBOT"
DEFAULT_TZ = "America/New_York"  # users.info's zone for anyone a test didn't describe (the workspace's in make_teams)


@dataclass
class Call:
    method: str
    params: dict
    auth: str | None = None
    status: int = 200
    ok: bool = True

    @property
    def blocks(self) -> list[dict]:
        return self.params.get("blocks") or []

    @property
    def view(self) -> dict:
        return self.params.get("view") or {}

    def text_everywhere(self) -> str:
        """Every string in the call, for asserting what a person would see."""
        return json.dumps(self.params, ensure_ascii=False)


@dataclass
class Failure:
    status: int
    error: str
    retry_after: int | None
    remaining: int
    skip: int = 0
    done_first: bool = False  # Slack did the work (e.g. posted), then the answer was an error
    token: str | None = None  # only calls made with this token (one workspace's) fail


@dataclass
class RandomFailure:
    fraction: float
    status: int
    error: str
    done_first: bool
    rng: random.Random


@dataclass
class Script:
    failures: dict[str, list[Failure]] = field(default_factory=lambda: defaultdict(list))
    random_failures: dict[str, RandomFailure] = field(default_factory=dict)

    def fail(self, method: str, *, times: int = 1, status: int = 200, error: str = "internal_error",
             retry_after: int | None = None, after: int = 0, done_first: bool = False,
             token: str | None = None) -> None:
        """Make `times` calls of `method` fail (HTTP `status`, or ok:false with `error`), after `after` succeed;
        with `token`, only the calls made with that token (one workspace's) count and fail.

        With `done_first`, Slack does what was asked (a post lands in the channel) and then answers with
        the error: the lost answer of a 5xx. `status=0` drops the connection without any answer.
        """
        self.failures[method].append(Failure(status, error, retry_after, times, after, done_first, token))

    def fail_randomly(self, method: str, fraction: float, *, status: int = 500, error: str = "internal_error",
                      done_first: bool = False, seed: int = 0) -> None:
        """Make a seeded random `fraction` of the calls of `method` fail (after `fail()`'s scripted ones)."""
        self.random_failures[method] = RandomFailure(fraction, status, error, done_first, random.Random(seed))

    def next_failure(self, method: str, token: str | None = None) -> Failure | None:
        scripted = self._next_scripted(method, token)
        if scripted is not None:
            return scripted
        chaos = self.random_failures.get(method)
        if chaos is not None and chaos.rng.random() < chaos.fraction:
            return Failure(chaos.status, chaos.error, None, 0, 0, chaos.done_first)
        return None

    def _next_scripted(self, method: str, token: str | None) -> Failure | None:
        queue = self.failures.get(method) or []
        while queue and queue[0].remaining <= 0:
            queue.pop(0)
        if not queue or queue[0].token not in (None, token):
            return None
        if queue[0].skip > 0:
            queue[0].skip -= 1
            return None
        queue[0].remaining -= 1
        return queue[0]


def check_blocks(method: str, params: dict) -> list[str]:
    """What Slack would reject: slack-sdk's validators plus the limits slack-sdk does not check."""
    problems = []
    blocks = params.get("blocks")
    if blocks is not None:
        if len(blocks) > MESSAGE_MAX_BLOCKS:
            problems.append(f"{method}: {len(blocks)} blocks (Slack allows {MESSAGE_MAX_BLOCKS})")
        if not params.get("text"):
            problems.append(f"{method}: blocks without a text fallback")
        for block in blocks:
            problem = block_problem(json.dumps(block, sort_keys=True))
            if problem:
                problems.append(f"{method}: invalid block {block.get('type')}: {problem}")
    view = params.get("view")
    if view is not None:
        # The view's own rules (title, block count, …) on its shell, with each block stood in for by a divider;
        # then each block, as View.to_dict checks them.
        view_blocks = view.get("blocks")
        shell = view if not isinstance(view_blocks, list) else {**view, "blocks": [DIVIDER] * len(view_blocks)}
        problem = view_problem(json.dumps(shell, sort_keys=True))
        if problem:
            problems.append(f"{method}: invalid view: {problem}")
        for block in view_blocks if isinstance(view_blocks, list) else []:
            problem = block_problem(json.dumps(block, sort_keys=True))
            if problem:
                problems.append(f"{method}: invalid view: invalid block {block.get('type')}: {problem}")
    return problems


# slack-sdk's validators are pure but slow (a third of a fan-out's CPU went to them), and the same blocks come
# again and again (headers, each person's copy of a prompt): each distinct block or view is checked once.
@functools.lru_cache(maxsize=4096)
def block_problem(block: str) -> str | None:
    """Why slack-sdk rejects this block (as JSON), or None."""
    try:
        Block.parse(json.loads(block)).to_dict()
    except Exception as error:
        return str(error)
    return None


@functools.lru_cache(maxsize=1024)
def view_problem(view: str) -> str | None:
    """Why slack-sdk rejects this view (as JSON), or None."""
    try:
        View(**json.loads(view)).to_dict()
    except Exception as error:
        return str(error)
    return None


# How often a server's loop looks for a shutdown request: each test stops two servers, and waits this long.
SHUTDOWN_POLL = 0.01


class KeepAliveServer(ThreadingHTTPServer):
    """A loopback HTTP server whose connections stay open between requests when the client asks (HTTP/1.1, as
    Slack's do); closing the server closes them too, so a client's kept connection finds the server gone."""

    daemon_threads = True

    def __init__(self, handler: type[KeepAliveHandler]):
        super().__init__(("127.0.0.1", 0), handler)
        self.connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self.connections_opened = 0

    def process_request(self, request, client_address) -> None:
        with self._connections_lock:
            self.connections.add(request)
            self.connections_opened += 1
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self._connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that gave up waiting (a timeout test)
            super().handle_error(request, client_address)

    def server_close(self) -> None:
        super().server_close()
        with self._connections_lock:
            for connection in self.connections:
                with contextlib.suppress(OSError):  # already closed by its client
                    connection.shutdown(socket.SHUT_RDWR)


class KeepAliveHandler(BaseHTTPRequestHandler):
    """A quiet handler of a KeepAliveServer's connections: HTTP/1.1, so a connection carries many calls."""

    protocol_version = "HTTP/1.1"  # keep-alive, as Slack's Web API
    disable_nagle_algorithm = True  # a kept connection's answer, written in two parts, must not wait for an ACK

    def log_message(self, *args) -> None:
        pass


class FakeSlackServer(KeepAliveServer):
    def __init__(self):
        super().__init__(FakeSlackHandler)
        self.calls: list[Call] = []
        self.problems: list[str] = []
        self.script = Script()
        self.usergroups: dict[str, list[str]] = {}
        self.users_by_email: dict[str, str] = {}  # users.lookupByEmail's directory (emails in any case)
        # users.info's people, by id (set_user); anyone else is an active user in DEFAULT_TZ with no status
        self.users: dict[str, dict] = {}
        self.history: dict[str, list[dict]] = {}
        self.token_teams: dict[str, str] = {}  # bot token → the workspace oauth.v2.access installed it into
        # auth.teams.list's answer for an org-wide install's token, by org: the workspaces granted, (id, name) each
        self.org_teams: dict[str, list[tuple[str, str]]] = {}
        self.used_codes: set[str] = set()
        self.done_before_failing: list[Call] = []  # calls that did their work, then answered an error
        self.lock = threading.Condition()  # notified on each call recorded, for wait_for
        self._ts = itertools.count(1)
        self._view_ids = itertools.count(1000)
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL},
                                       daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api/"

    def response_url(self, name: str = "cmd") -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/respond/{name}"

    def start(self) -> FakeSlackServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    # --- what tests read ---

    def calls_to(self, method: str, *, succeeded: bool = False) -> list[Call]:
        with self.lock:
            return self._calls_to(method, succeeded=succeeded)

    def _calls_to(self, method: str, *, succeeded: bool = False) -> list[Call]:
        return [call for call in self.calls if call.method == method and (call.ok or not succeeded)]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5) -> list[Call]:
        """Wait until `method` was called at least `count` times (work after ack runs on threads)."""
        with self.lock:
            if self.lock.wait_for(lambda: len(self._calls_to(method)) >= count, timeout):
                return self._calls_to(method)
        raise AssertionError(f"expected {count} call(s) to {method}, got {len(self.calls_to(method))}: "
                             f"{[c.method for c in self.calls]}")

    def set_user(self, user_id: str, *, tz: str | None = DEFAULT_TZ, status_text: str = "", status_emoji: str = "",
                 status_expiration: int = 0, deleted: bool = False, missing: bool = False) -> dict:
        """What users.info says of `user_id` from now on (`missing`: user_not_found); the user object, as Slack
        also sends it in user_change and user_status_changed events."""
        user = {"id": user_id, "team_id": "T1", "name": user_id.lower(), "deleted": deleted, "is_bot": False,
                "profile": {"status_text": status_text, "status_emoji": status_emoji,
                            "status_expiration": status_expiration}}
        if tz is not None:
            user.update(tz=tz, tz_label=tz, tz_offset=0)
        with self.lock:
            self.users[user_id] = {"missing": True} if missing else user
        return user

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()


class FakeSlackHandler(KeepAliveHandler):
    server: FakeSlackServer

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/upload/"):
            # files_upload_v2's second step: the bytes go to the URL files.getUploadURLExternal gave.
            with self.server.lock:
                # The bytes as text (CSV files are; a chart's PNG reads as noise), to check what a file carried.
                self.server.calls.append(Call("upload", {"size": len(data), "path": self.path,
                                                         "text": data.decode(errors="replace")}))
                self.server.lock.notify_all()
            return self._reply(200, None)
        raw = data.decode()
        if self.path.startswith("/respond/"):
            params = json.loads(raw)
            method = "response_url"
        else:
            params = json.loads(raw) if raw.startswith("{") else dict(parse_qsl(raw))
            for key in ("blocks", "view", "attachments"):
                if isinstance(params.get(key), str):
                    params[key] = json.loads(params[key])
            # slack-sdk sends some methods' arguments in the query string (auth.teams.list)
            path, _, query = self.path.partition("?")
            params = {**dict(parse_qsl(query)), **params}
            method = path.rsplit("/", 1)[-1]
        problems = check_blocks(method, params)
        call = Call(method, params, self.headers.get("Authorization"))
        if method in ("auth.test", "auth.teams.list"):
            params = {**params, "token": (call.auth or "").removeprefix("Bearer ")}
        with self.server.lock:
            self.server.calls.append(call)
            self.server.problems.extend(problems)
            self.server.lock.notify_all()
        with self.server.lock:
            failure = self.server.script.next_failure(method, (call.auth or "").removeprefix("Bearer ") or None)
        if failure is not None:
            if failure.done_first and not problems and method in ANSWERS:
                with self.server.lock:
                    self.server.done_before_failing.append(call)
                ANSWERS[method](self.server, params)
            call.status, call.ok = failure.status, False
            if failure.status == 0:
                self.close_connection = True  # no answer at all: the client sees the connection drop
                return None
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            body = {"ok": False, "error": "ratelimited" if failure.status == 429 else failure.error}
            return self._reply(failure.status, body, headers)
        if problems:
            return self._reply(200, {"ok": False, "error": "invalid_blocks", "problems": problems})
        if method == "response_url":
            return self._reply(200, None)
        answer = ANSWERS.get(method)
        if answer is None:
            with self.server.lock:
                self.server.problems.append(f"unexpected Slack method {method}")
            return self._reply(404, {"ok": False, "error": "unknown_method"})
        return self._reply(200, {"ok": True, **answer(self.server, params)})

    def _reply(self, status: int, body: dict | None, headers: dict | None = None) -> None:
        data = b"ok" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if body is None else "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


def dm_channel(channel: str | None) -> str | None:
    """Posting to a user id posts in their DM with the app, which has a D… id (as conversations.open says)."""
    return "D" + channel if channel and channel[:1] in ("U", "W") else channel


def _post(server, params):
    metadata = params.get("metadata")
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    channel = dm_channel(params.get("channel"))
    with server.lock:
        ts = server.next_ts()
        server.history.setdefault(channel, []).append({"ts": ts, "text": params.get("text"), "metadata": metadata})
    # Slack would answer with the D… id; the fake answers with what was asked, as tests expect of it.
    return {"channel": params.get("channel"), "ts": ts, "message": {"text": params.get("text")}}


def _history(server, params):
    """Newest first, as Slack; metadata only for callers that ask for it with include_all_metadata."""
    with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
    with server.lock:
        posted = list(reversed(server.history.get(params.get("channel"), [])))
    if not with_metadata:
        posted = [{k: v for k, v in message.items() if k != "metadata"} for message in posted]
    return {"messages": posted, "has_more": False}


def _upload_url(server, params):
    return {"upload_url": f"http://127.0.0.1:{server.server_address[1]}/upload/F1", "file_id": "F1"}


def _view(server, params):
    # Each opened view gets its own id, as in Slack (apps key idempotency on it); it is written back into the
    # recorded call so that a test submitting `call.view` submits the view Slack would have shown.
    view = params.get("view") or {}
    view_id = params.get("view_id") or view.get("id") or f"V{next(server._view_ids)}"
    if isinstance(params.get("view"), dict):
        params["view"]["id"] = view_id
    return {"view": {"hash": "h1", **view, "id": view_id}}


def _permalink(server, params):
    channel, ts = params.get("channel"), str(params.get("message_ts", ""))
    return {"channel": channel, "permalink": f"https://acme.slack.com/archives/{channel}/p{ts.replace('.', '')}"}


def _user_info(server, params):
    user_id = str(params.get("user", ""))
    with server.lock:
        user = server.users.get(user_id)
    if user is None:
        user = {"id": user_id, "team_id": "T1", "deleted": False, "is_bot": False, "tz": DEFAULT_TZ,
                "profile": {"status_text": "", "status_emoji": "", "status_expiration": 0}}
    if user.get("missing"):
        return {"ok": False, "error": "user_not_found"}
    return {"user": user}


def _lookup_by_email(server, params):
    email = str(params.get("email", "")).casefold()
    found = {known.casefold(): user for known, user in server.users_by_email.items()}.get(email)
    if found is None:
        return {"ok": False, "error": "users_not_found"}
    return {"user": {"id": found, "team_id": "T1", "deleted": False, "is_bot": False, "profile": {"email": email}}}


def bot_token(team_id: str) -> str:
    """The bot token oauth.v2.access hands out for an install into `team_id` (an org-wide install: its org)."""
    return f"xoxb-{team_id}"


def _auth_test(server, params):
    """Who a token is: an installed workspace's bot token names its workspace; any other is T1's (one token)."""
    team_id = server.token_teams.get(params.get("token"))
    if team_id is None:
        return {"user_id": BOT_USER, "bot_id": "B1", "team_id": "T1", "team": "Acme", "url": "https://acme.slack.com/"}
    return {"user_id": BOT_USER, "bot_id": f"B{team_id}", "team_id": team_id, "team": f"Team {team_id}",
            "url": f"https://{team_id.lower()}.slack.com/"}


def _oauth_access(server, params):
    """oauth.v2.access: the code `code-T2` installs into workspace T2 (`code-T2.again` too, for a second install);
    `code-org-E1` is an org-wide install into Enterprise Grid org E1. A code works once, as at Slack."""
    code = str(params.get("code", ""))
    with server.lock:
        if not code.startswith("code-") or code in server.used_codes:
            return {"ok": False, "error": "invalid_code"}
        server.used_codes.add(code)
        target = code.removeprefix("code-")
        org = target.startswith("org-")
        team_id = target.removeprefix("org-").split(".")[0]
        server.token_teams[bot_token(team_id)] = team_id
    installed = {"enterprise": {"id": team_id, "name": f"Org {team_id}"}, "team": None,
                 "is_enterprise_install": True} if org else {"team": {"id": team_id, "name": f"Team {team_id}"},
                                                               "enterprise": None, "is_enterprise_install": False}
    return {"app_id": "A1", "authed_user": {"id": "UINSTALLER"}, "scope": "commands,chat:write",
            "token_type": "bot", "access_token": bot_token(team_id), "bot_user_id": BOT_USER, **installed}


def _auth_teams_list(server, params):
    """auth.teams.list: the workspaces the org-wide install of the token's org was granted, `limit` a page (Slack's
    default 100), the next page's cursor in response_metadata.next_cursor ("" on the last)."""
    with server.lock:
        teams = list(server.org_teams.get(server.token_teams.get(params.get("token")), []))
    cursor, limit = str(params.get("cursor") or ""), int(params.get("limit") or 100)
    if cursor and not cursor.startswith("page-"):
        return {"ok": False, "error": "invalid_cursor"}
    start = int(cursor.removeprefix("page-")) if cursor else 0
    page = teams[start:start + limit]
    following = f"page-{start + limit}" if start + limit < len(teams) else ""
    return {"teams": [{"id": team_id, "name": name} for team_id, name in page],
            "response_metadata": {"next_cursor": following}}


ANSWERS = {
    "auth.teams.list": _auth_teams_list,
    "auth.test": _auth_test,
    "oauth.v2.access": _oauth_access,
    "chat.postMessage": _post,
    "conversations.history": _history,
    "files.getUploadURLExternal": _upload_url,
    "files.completeUploadExternal": lambda s, p: {"files": [{"id": "F1", "title": "chart"}]},
    "chat.update": lambda s, p: {"channel": p.get("channel"), "ts": p.get("ts")},
    "chat.getPermalink": _permalink,
    "chat.postEphemeral": lambda s, p: {"message_ts": s.next_ts()},
    "conversations.join": lambda s, p: {"channel": {"id": p.get("channel")}},
    "conversations.open": lambda s, p: {"channel": {"id": dm_channel(str(p.get("users", "U")).split(",")[0])}},
    "views.open": _view,
    "views.update": _view,
    "views.push": _view,
    "views.publish": _view,
    "users.lookupByEmail": _lookup_by_email,
    "users.info": _user_info,
    "usergroups.users.list": lambda s, p: {"users": s.usergroups.get(p.get("usergroup"), [])},
    "usergroups.list": lambda s, p: {"usergroups": [{"id": g, "handle": g.lower(), "name": g} for g in s.usergroups]},
}
