"""Run the Procfile's release, web and clock as deployed, against the fake Slack on loopback: drive the main
surfaces with signed requests (teams, a rating and its lead-feed reply, an action, stats, help, the digest preview,
a signed lead and its Accept) and scrape /metrics, then print OK/FAIL per step and the tail of each process's log.

    python bench/procfile_smoke.py      # from the repo root, in the project's venv
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fake_slack import FakeSlackServer  # noqa: E402
from tests.helpers import SlackDriver, free_port  # noqa: E402

SECRET = "procfile-secret"
HOOK_SECRET = "hook-secret"
fake = FakeSlackServer().start()
fake.usergroups = {}
work = Path(tempfile.mkdtemp())
port = free_port()
env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "LEAD_", "SALES_"))}
env.update(SLACK_BOT_TOKEN="xoxb-procfile", SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=fake.url,
           DATABASE_URL=f"sqlite:///{work}/crossfeed.db", PORT=str(port), LEAD_FEED_CHANNEL="C_FEED",
           SALES_CHANNEL="C_SALES", LEAD_WEBHOOK_SECRET=HOOK_SECRET, ADMIN_USER_IDS="UADMIN",
           PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
lines = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if ": " in line)
print("release:", subprocess.run(["sh", "-c", lines["release"]], env=env, cwd=ROOT, capture_output=True,
                                 text=True).stderr.strip()[-300:])
logs = {name: open(work / f"{name}.log", "w") for name in ("web", "clock")}  # noqa: SIM115 - open while the processes run, closed at the end
procs = {name: subprocess.Popen(["sh", "-c", lines[name]], env=env, cwd=ROOT, stdout=logs[name],
                                stderr=subprocess.STDOUT) for name in ("web", "clock")}
url = f"http://127.0.0.1:{port}"
for _ in range(100):
    try:
        urllib.request.urlopen(url + "/healthz", timeout=1)
        break
    except OSError:
        time.sleep(0.2)
slack = SlackDriver(app_url=url, secret=SECRET, fake=fake)
results = []


def check(name, ok, detail=""):
    results.append((name, bool(ok)))
    print(("OK  " if ok else "FAIL"), name, detail)


def wait_calls(method, count, timeout=15, where=lambda c: True):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = [c for c in fake.calls_to(method) if where(c)]
        if len(found) >= count:
            return found
        time.sleep(0.1)
    return [c for c in fake.calls_to(method) if where(c)]


reply = slack.command("/alignment", "team add <@U1> <@U2> <@U3> sales", user="UADMIN")
check("team add sales", "Mention" not in reply.body, reply.body[:120])
reply = slack.command("/alignment", "team add <@UM1> <@UM2> marketing", user="UADMIN")
check("team add marketing", "Mention" not in reply.body, reply.body[:120])
reply = slack.command("/leadfeedback", 'ACME-1 2 no-budget source:webinar "only wanted <!channel> pricing"', user="U1")
check("rating answered", reply.status == 200, reply.body[:160])
feed = wait_calls("chat.postMessage", 1, where=lambda c: c.params.get("channel") == "C_FEED")
check("feed post", feed, str(len(feed)))
if feed:
    buttons = [e for b in feed[0].params["blocks"] if b["type"] == "actions" for e in b["elements"]]
    check("feed post buttons", len(buttons) >= 4, ", ".join(e["action_id"] for e in buttons))
    fixed = next(e for e in buttons if e["action_id"].endswith("fixed"))
    reply = slack.click(fixed["action_id"], fixed["value"], user="UM1", channel="C_FEED")
    views = wait_calls("views.open", 1)
    check("reply modal opened", views)
    if views:
        view = views[-1].view
        from bot.blocks.ids import ReplyIds as R
        values = {R.STATUS: {R.STATUS: {"type": "radio_buttons", "selected_option": {"value": "fixed"}}},
                  R.NOTE: {R.NOTE: {"type": "plain_text_input", "value": "Form asks company size now"}},
                  R.LINK: {R.LINK: {"type": "plain_text_input", "value": "https://acme.com/changes/1"}}}
        reply = slack.submit(view, values, user="UM1")
        check("reply submitted", reply.status == 200 and "error" not in reply.body, reply.body[:200])
        dms = wait_calls("chat.postMessage", 1, where=lambda c: c.params.get("channel") == "U1")
        check("rater told by DM", len(dms) == 1, str(len(dms)))
        updates = wait_calls("chat.update", 1, where=lambda c: c.params.get("channel") == "C_FEED")
        check("feed post updated", updates)
reply = slack.command("/alignment", 'action "Fix webinar targeting" <@UM2> 2026-12-30', user="UM1")
check("alignment action", "Mention" not in reply.body, reply.body[:160])
reply = slack.command("/alignment", "action list", user="UM1")
check("action list", "Fix webinar" in reply.body or wait_calls("chat.postEphemeral", 1), reply.body[:160])
reply = slack.command("/leadfeedback", "stats", user="UM1")
check("stats", reply.status == 200, reply.body[:120])
reply = slack.command("/leadfeedback", "help", user="U1")
check("help", reply.status == 200 and "stats" in reply.body, reply.body[:80])
reply = slack.command("/alignment", "digest", user="UADMIN")
check("digest preview", reply.status == 200, reply.body[:120])

# Lead handoff, when the web process serves it.
lead = json.dumps({"id": "CRM-1", "name": "Ada", "company": "Initech", "source": "webinar", "owner": "U0123ABCD",
                   "url": "https://crm.example.com/leads/1"})
ts = str(int(time.time()))
signature = "v0=" + hmac.new(HOOK_SECRET.encode(), f"v0:{ts}:{lead}".encode(), hashlib.sha256).hexdigest()
request = urllib.request.Request(url + "/hooks/leads", data=lead.encode(), method="POST", headers={
    "Content-Type": "application/json", "X-Crossfeed-Request-Timestamp": ts, "X-Crossfeed-Signature": signature})
try:
    with urllib.request.urlopen(request, timeout=5) as answer:
        status, body = answer.status, answer.read().decode()
except urllib.error.HTTPError as error:
    status, body = error.code, error.read().decode()
check("lead webhook 202", status == 202, f"{status} {body[:120]}")
if status == 202:
    card = wait_calls("chat.postMessage", 1, where=lambda c: c.params.get("channel") == "U0123ABCD")
    check("owner's DM card", card)
    if card:
        accept = next(e for b in card[0].params["blocks"] if b["type"] == "actions" for e in b["elements"]
                      if e["action_id"] == "lead.accept")
        reply = slack.click("lead.accept", accept["value"], user="U0123ABCD", channel="D1")
        updated = wait_calls("chat.update", 1, where=lambda c: c.params.get("channel") == "U0123ABCD")
        check("accept updates the card", updated, reply.body[:120])

# People's time (issue 15): time off, a status event, a skipped week, and the clock reading zones from Slack.
until = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
reply = slack.command("/pulse", f"away until {until}", user="U2")
check("pulse away", reply.status == 200 and "away until" in reply.body.casefold(), reply.body[:120])
reply = slack.command("/pulse", "back", user="U2")
check("pulse back", reply.status == 200 and "welcome back" in reply.body.casefold(), reply.body[:120])
fake.set_user("U3", tz="Australia/Sydney", status_text="Vacationing", status_emoji=":palm_tree:")
event = {"type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": "Ev1", "event_time": 1,
         "event": {"type": "user_status_changed", "user": fake.users["U3"], "cache_ts": 1, "event_ts": "1.1"},
         "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}]}
reply = slack.post(json.dumps(event), content_type="application/json")
check("status event", reply.status == 200, reply.body[:80])
week = (datetime.now(UTC) + timedelta(weeks=5)).isocalendar()
reply = slack.command("/alignment", f"pulse skip {week.year}-W{week.week:02d}", user="UADMIN")
check("pulse skip", reply.status == 200 and "no pulse in" in reply.body.casefold(), reply.body[:120])
asked = wait_calls("users.info", 5, timeout=75)  # the clock's pulse job runs each minute
check("clock reads zones (users.info)", {c.params.get("user") for c in asked} >= {"U1", "UM1"},
      sorted({c.params.get("user") for c in asked}))

with urllib.request.urlopen(url + "/metrics", timeout=5) as answer:
    scraped = answer.read().decode()
timed = [line for line in scraped.splitlines() if line.startswith("crossfeed_request_duration_seconds_count")]
check("metrics count the requests by surface", any('surface="/leadfeedback"' in line for line in timed),
      "; ".join(timed)[:300])

time.sleep(3)
for proc in procs.values():
    proc.terminate()
for proc in procs.values():
    proc.wait(timeout=20)
for name in logs:
    logs[name].close()
    text = (work / f"{name}.log").read_text()
    print(f"--- {name}.log ({len(text.splitlines())} lines)")
    print("\n".join(text.splitlines()[-25:]))
    check(f"{name} log has no traceback", "Traceback" not in text)
print("fake problems:", fake.problems[:5])
check("fake saw valid blocks", not fake.problems)
print("methods:", sorted({c.method for c in fake.calls}))
print("ALL OK" if all(ok for _, ok in results) else "SOME FAILED")
