"""Leads arriving from the CRM at POST /hooks/leads and reaching an owner: signed requests to the real app over
HTTP, Slack calls checked on the fake Slack, the sweep reached through the clock's job table."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from freezegun import freeze_time
from sqlalchemy import func, select

from bot.blocks.ids import LeadIds as Ids
from bot.handoff import LeadInput, receive_lead
from storage.db import make_session_factory
from storage.models import Lead, SlackUserEmail
from tests.clock_kit import TurnedClock
from tests.helpers import ROOT, Reply, run

LEAD_SECRET = "crm-lead-secret"
SALES = "C_SALES"
OWNER = "U0OWNER"
# Wednesday 25 November 2026, 10:00 in New York: a working morning (09:00–17:00, Monday to Friday).
ARRIVAL = datetime.fromisoformat("2026-11-25T15:00:00+00:00")
ACME = {"id": "HS-1001", "name": "Dana Reyes", "company": "Acme <Corp>", "email": "dana@acme.example",
        "source": "webinars", "campaign": "Q4 ROI webinar", "score": 87, "url": "https://crm.example/leads/1001",
        "owner": OWNER}


@pytest.fixture
def app(start_app):
    return start_app(lead_webhook_secret=LEAD_SECRET, sales_channel=SALES, workspace_timezone="America/New_York")


def signature(body: str, *, secret: str = LEAD_SECRET, timestamp: int | None = None) -> dict[str, str]:
    """The headers a CRM sends: v0=hex(HMAC-SHA256(secret, "v0:{ts}:{body}"))."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Crossfeed-Request-Timestamp": ts, "X-Crossfeed-Signature": f"v0={digest}"}


def send_lead(app, lead: dict | str, *, signed: bool = True, query: str = "", **signing) -> Reply:
    body = lead if isinstance(lead, str) else json.dumps(lead)
    headers = signature(body, **signing) if signed else {}
    return app.slack.post(body, content_type="application/json", headers=headers, signed=False,
                          path=f"/hooks/leads{query}")


def leads(app) -> list[Lead]:
    with app.crossfeed.sessions() as session:
        return list(session.scalars(select(Lead).order_by(Lead.id)).unique())


def posts_to(app, channel: str) -> list[dict]:
    return [call.params for call in app.fake.calls_to("chat.postMessage", succeeded=True)
            if call.params["channel"] == channel]


def buttons(message: dict) -> dict[str, str]:
    return {element["action_id"]: element.get("value") for block in message["blocks"] if block["type"] == "actions"
            for element in block["elements"]}


# --- a lead arrives ---------------------------------------------------------------------------------------------


def test_a_signed_lead_is_stored_and_its_owner_gets_the_card_with_the_time_left(app):
    with freeze_time(ARRIVAL):
        reply = send_lead(app, ACME)
        app.settle()

    assert reply.status == 202
    assert reply.json == {"ok": True, "lead": "HS-1001", "status": "received"}
    [lead] = leads(app)
    assert (lead.crm_id, lead.lead_key, lead.owner_user_id, lead.status) == ("HS-1001", "hs-1001", OWNER, "assigned")
    assert lead.routing_pending is False and lead.source.code == "webinar" and lead.source_text is None
    assert lead.sla_minutes == 60
    assert lead.remind_at == ARRIVAL + timedelta(minutes=30) and lead.due_at == ARRIVAL + timedelta(minutes=60)
    [card] = posts_to(app, OWNER)
    shown = json.dumps(card)
    assert "Dana Reyes" in shown and "Acme &lt;Corp&gt;" in shown and "<Corp>" not in shown
    for seen in ("Webinar", "Q4 ROI webinar", "87", "<https://crm.example/leads/1001|Open in the CRM>",
                 "1 h of working time left to accept it"):
        assert seen in shown
    assert buttons(card) == {Ids.ACCEPT: str(lead.id), Ids.NOT_MINE: str(lead.id), Ids.RATE: str(lead.id)}
    assert app.fake.calls_to("auth.test"), "the workspace came from the bot token"


def test_a_friday_evening_lead_is_due_on_monday_morning(app):
    friday_evening = datetime.fromisoformat("2026-11-27T16:30:00-05:00")
    with freeze_time(friday_evening):
        assert send_lead(app, ACME).status == 202
        app.settle()
    [lead] = leads(app)
    assert lead.remind_at == datetime.fromisoformat("2026-11-27T17:00:00-05:00")
    assert lead.due_at == datetime.fromisoformat("2026-11-30T09:30:00-05:00")


def test_a_resend_updates_the_details_but_never_the_clock_nor_sends_a_second_card(app):
    with freeze_time(ARRIVAL) as frozen:
        send_lead(app, ACME)
        app.settle()
        frozen.tick(timedelta(minutes=20))
        again = send_lead(app, {**ACME, "company": "Acme Corporation", "score": "91.6", "owner": "U0SOMEONE"})
        app.settle()
        partial = send_lead(app, {"id": "HS-1001", "campaign": None, "source": "Carrier pigeon"})
        app.settle()

    assert again.status == 202 and again.json == {"ok": True, "lead": "HS-1001", "status": "updated"}
    assert partial.json["status"] == "updated"
    [lead] = leads(app)
    assert (lead.company, lead.score, lead.name) == ("Acme Corporation", 92, "Dana Reyes"), "what a resend omits stays"
    assert lead.campaign is None, "a field sent as null is cleared"
    assert (lead.source.code, lead.source_text) == ("other", "Carrier pigeon"), "a source matching none is kept as sent"
    assert lead.owner_user_id == OWNER, "once routed, the owner is Slack's business"
    assert lead.received_at == ARRIVAL and lead.due_at == ARRIVAL + timedelta(minutes=60)
    assert len(posts_to(app, OWNER)) == 1 and not posts_to(app, "U0SOMEONE")


def test_a_lead_for_another_workspace_names_it_in_the_query(app):
    assert send_lead(app, ACME, query="?team=T0OTHER").status == 202
    app.settle()
    [lead] = leads(app)
    assert lead.team_id == "T0OTHER"
    assert not app.fake.calls_to("auth.test")
    assert send_lead(app, ACME, query="?team=general").json == {"ok": False,
                                                                "error": "team must be a Slack team id (T…)"}


# --- owners -----------------------------------------------------------------------------------------------------


def test_an_owner_given_by_email_is_looked_up_once_for_two_leads(app):
    app.fake.users_by_email["dana.owner@acme.example"] = "U0DANA"
    send_lead(app, {"id": "L-1", "owner": "Dana.Owner@Acme.example"})
    app.settle()
    send_lead(app, {"id": "L-2", "owner": "dana.owner@acme.example"})
    app.settle()

    assert [lead.owner_user_id for lead in leads(app)] == ["U0DANA", "U0DANA"]
    assert len(posts_to(app, "U0DANA")) == 2
    assert len(app.fake.calls_to("users.lookupByEmail")) == 1, "the second lead's owner came from the cache"


def test_an_unknown_email_and_no_owner_go_to_the_sales_channel_to_be_claimed(app):
    send_lead(app, {"id": "L-1", "name": "Nobody's", "owner": "gone@acme.example"})
    send_lead(app, {"id": "L-2", "company": "Orphan Inc"})
    app.settle()

    assert [(lead.status, lead.owner_user_id) for lead in leads(app)] == [("unassigned", None)] * 2
    claim_posts = posts_to(app, SALES)
    assert len(claim_posts) == 2
    assert all(list(buttons(post)) == [Ids.CLAIM] for post in claim_posts)
    with app.crossfeed.sessions() as session:
        assert session.execute(select(SlackUserEmail.email, SlackUserEmail.user_id)).all() == [
            ("gone@acme.example", None)]
    # Known as nobody: the next lead for that email asks Slack no more.
    send_lead(app, {"id": "L-3", "owner": "gone@acme.example"})
    app.settle()
    assert len(app.fake.calls_to("users.lookupByEmail")) == 1 and len(posts_to(app, SALES)) == 3


def test_a_rate_limited_lookup_is_waited_out(app):
    app.fake.users_by_email["dana@acme.example"] = "U0DANA"
    app.fake.script.fail("users.lookupByEmail", status=429, retry_after=0)
    send_lead(app, {"id": "L-1", "owner": "dana@acme.example"})
    app.settle()
    assert len(posts_to(app, "U0DANA")) == 1
    assert len(app.fake.calls_to("users.lookupByEmail")) == 2


def test_a_lead_left_unrouted_is_routed_once_by_the_clock_even_with_two_clocks(app):
    """Leads stored but never routed (the process died after the commit): two clock processes sweep them up at
    once and each lead reaches its owner, or the sales channel, exactly once."""
    app.fake.users_by_email["dana@acme.example"] = "U0DANA"
    crashed = make_session_factory(app.crossfeed.engine)  # no after-commit routing: as if the process died
    with freeze_time(ARRIVAL), crashed.begin() as session:
        for number in range(6):
            owner = ["dana@acme.example", "U0ALEX", None][number % 3]
            receive_lead(session=session, team_id="T1", lead=LeadInput.parse({"id": f"L-{number}", "owner": owner}),
                         now=ARRIVAL)
    assert all(lead.routing_pending for lead in leads(app))
    assert not app.fake.calls_to("chat.postMessage")

    start = threading.Barrier(2)

    def turn(clock):
        start.wait()
        clock.turn()

    with freeze_time(ARRIVAL) as frozen:
        clocks = [TurnedClock(app.settings), TurnedClock(app.settings)]
        try:
            frozen.tick(timedelta(minutes=1))
            threads = [threading.Thread(target=turn, args=(clock,)) for clock in clocks]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
        finally:
            for clock in clocks:
                clock.stop()
        app.settle()

    assert not any(lead.routing_pending for lead in leads(app))
    assert (len(posts_to(app, "U0DANA")), len(posts_to(app, "U0ALEX")), len(posts_to(app, SALES))) == (2, 2, 2)


# --- claiming ---------------------------------------------------------------------------------------------------


def test_two_people_claim_at_once_one_wins_and_the_other_is_told_who(app):
    send_lead(app, {"id": "L-ORPHAN", "name": "Orphan lead"})
    app.settle()
    [post] = posts_to(app, SALES)
    lead_id = buttons(post)[Ids.CLAIM]

    start = threading.Barrier(2)
    replies = {}

    def click(user):
        start.wait()
        replies[user] = app.slack.click(Ids.CLAIM, lead_id, user=user, channel=SALES)

    threads = [threading.Thread(target=click, args=(user,)) for user in ("U0ANNA", "U0BEN")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    app.settle()

    assert all(reply.status == 200 for reply in replies.values())
    [lead] = leads(app)
    winner = lead.owner_user_id
    loser = ({"U0ANNA", "U0BEN"} - {winner}).pop()
    assert lead.status == "assigned" and winner in ("U0ANNA", "U0BEN")
    [card] = posts_to(app, winner)
    assert Ids.ACCEPT in buttons(card)
    assert not posts_to(app, loser)
    [update] = [call.params for call in app.fake.calls_to("chat.update") if call.params["channel"] == SALES]
    assert f"Claimed by <@{winner}>" in json.dumps(update) and Ids.CLAIM not in buttons(update)
    [told] = [call.params for call in app.fake.calls_to("response_url")]
    assert told["response_type"] == "ephemeral" and f"<@{winner}> claimed lead L-ORPHAN first" in told["text"]


# --- refusals ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("signing", "error"), [
    (dict(secret="not-the-secret"), "bad signature"),
    (dict(timestamp=int(time.time()) - 600), "stale timestamp"),
    (None, "missing signature"),
])
def test_a_badly_signed_lead_is_refused_and_nothing_is_stored(app, signing, error):
    reply = send_lead(app, ACME, signed=signing is not None, **(signing or {}))
    assert reply.status == 401 and reply.headers["Content-Type"] == "application/json"
    assert reply.json["ok"] is False and reply.json["error"].startswith(error)
    assert leads(app) == []


@pytest.mark.parametrize(("body", "error"), [
    ('{"id": "L-1", "name": ', "bad JSON"),
    ('{"id": "L-1", "score": NaN}', "bad JSON"),
    ('["L-1"]', "the lead must be a JSON object"),
    ('{"name": "Dana"}', "missing id"),
    ('{"id": "L-1", "score": "high"}', "score must be a number"),
    ('{"id": "L-1", "score": true}', "score must be a number"),
    ('{"id": "L-1", "name": ["Dana"]}', "name must be a string"),
    ('{"id": "L-1", "url": "javascript:alert(1)"}', "url must be a web address"),
    ('{"id": "L-1", "owner": "@dana"}', "owner must be a Slack user id"),
    (json.dumps({"id": "L-1", "company": "x" * 201}), "company is 201 characters; keep it to 200."),
])
def test_a_malformed_lead_is_refused_with_the_problem_named(app, body, error):
    reply = send_lead(app, body)
    assert reply.status == 400, reply.body
    assert reply.json["ok"] is False and error in reply.json["error"]
    assert leads(app) == []


def test_a_body_over_the_cap_is_refused_unread(app):
    body = json.dumps({"id": "L-1", "name": "x" * 70_000})
    reply = send_lead(app, body)
    assert reply.status == 413 and reply.json["ok"] is False and leads(app) == []


def test_without_a_webhook_secret_every_lead_is_refused_saying_what_to_set(start_app):
    app = start_app()
    reply = send_lead(app, ACME)
    assert reply.status == 503 and "set LEAD_WEBHOOK_SECRET" in reply.json["error"]
    with app.crossfeed.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Lead)) == 0


def test_answers_do_not_wait_for_slack(app):
    """The 202 comes before the owner lookup: a slow or failing Slack holds up routing, never the answer."""
    app.fake.script.fail("users.lookupByEmail", times=10, status=500)
    started = time.monotonic()
    reply = send_lead(app, {"id": "L-1", "owner": "dana@acme.example"})
    assert reply.status == 202 and time.monotonic() - started < 2
    app.settle()
    [lead] = leads(app)
    assert lead.routing_pending, "Slack failed: the lead waits for the clock's sweep"
    assert datetime.now(UTC) - lead.received_at < timedelta(minutes=1)


# --- importing a CSV file ---------------------------------------------------------------------------------------


def test_import_leads_from_a_csv_file_reports_each_line_and_fails_if_any_was_refused(app, tmp_path):
    app.fake.users_by_email["dana@acme.example"] = "U0DANA"
    send_lead(app, {"id": "HS-2", "company": "Before"})
    app.settle()
    csv_file = tmp_path / "leads.csv"
    csv_file.write_text(
        "id,name,company,email,source,campaign,score,url,owner,extra\n"
        "HS-1,Dana Reyes,Acme,dana@acme.example,webinar,Q4,87,https://crm.example/1,dana@acme.example,x\n"
        "HS-2,,\"After, Inc\",,,,,,,\n"
        "HS-3,Bad Score,,,,,high,,,\n"
        ",No Id,,,,,,,,\n"
        "HS-4,Quote \"\"Q\"\",,,,,12.4,,U0ALEX,\n",
        encoding="utf-8")
    result = run(["-m", "bot", "import-leads", str(csv_file), "--team", "T1"],
                 {"DATABASE_URL": app.settings.database_url, "SLACK_BOT_TOKEN": "xoxb-test",
                  "SLACK_API_URL": app.fake.url, "SALES_CHANNEL": SALES}, ROOT)

    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        "line 2: imported HS-1",
        "line 3: updated HS-2",
        "line 4: refused HS-3: score must be a number",
        "line 5: refused (no id): missing id",
        "line 6: imported HS-4",
        "2 imported, 1 updated, 2 refused",
    ]
    by_id = {lead.crm_id: lead for lead in leads(app)}
    assert sorted(by_id) == ["HS-1", "HS-2", "HS-4"]
    assert by_id["HS-2"].company == "After, Inc" and by_id["HS-4"].score == 12
    assert (by_id["HS-1"].owner_user_id, by_id["HS-4"].owner_user_id) == ("U0DANA", "U0ALEX")
    assert len(posts_to(app, "U0DANA")) == 1 and len(posts_to(app, "U0ALEX")) == 1, "routed before it exited"


def test_the_manifest_asks_for_the_scope_that_looks_up_owners_by_email():
    scopes = set(yaml.safe_load((ROOT / "manifest.yml").read_text())["oauth_config"]["scopes"]["bot"])
    assert {"users:read", "users:read.email"} <= scopes


# --- the card as the lead moves on ------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "seen", "buttons_shown"), [
    ("waiting", "45 min of working time left to accept it", {Ids.ACCEPT, Ids.NOT_MINE, Ids.RATE}),
    ("accepted", "You accepted it", {Ids.RATE}),
    ("passed_back", "You passed it back", set()),
    ("claimed_by_other", "<@U0OTHER> has it now", set()),
])
def test_the_card_shows_where_the_lead_stands(state, seen, buttons_shown):
    """The card is rendered from the lead's current state each time it is queued (the follow-up buttons re-queue
    it under the same key, which updates it in place)."""
    from bot.blocks.handoff import lead_card_message
    from bot.results.handoff import HandedOffLead, LeadCard

    lead = HandedOffLead(id=7, crm_id="HS-7", name="<!channel> Dana", company=None, email=None, source=None,
                         campaign=None, score=None, url="javascript:alert(1)", status="assigned",
                         owner_user_id="U0OTHER" if state == "claimed_by_other" else OWNER, due_at=ARRIVAL,
                         accepted_at=ARRIVAL if state == "accepted" else None)
    text, blocks = lead_card_message(LeadCard(lead=lead, owner_user_id=OWNER, state=state, minutes_left=45,
                                              overdue=False))
    shown = json.dumps([block.to_dict() for block in blocks])  # to_dict runs slack-sdk's Block Kit checks
    assert seen in shown and "&lt;!channel&gt; Dana" in shown and "<!channel>" not in shown + text
    assert "<javascript" not in shown, "only http(s) links are links"
    assert set(buttons({"blocks": json.loads(shown)})) == buttons_shown


def test_import_leads_refuses_a_file_without_an_id_column(app, tmp_path):
    csv_file = tmp_path / "leads.csv"
    csv_file.write_text("name,company\nDana,Acme\n", encoding="utf-8")
    result = run(["-m", "bot", "import-leads", str(csv_file), "--team", "T1"],
                 {"DATABASE_URL": app.settings.database_url, "SLACK_BOT_TOKEN": "xoxb-test",
                  "SLACK_API_URL": app.fake.url}, ROOT)
    assert result.returncode == 2 and "no `id` column" in result.stderr and leads(app) == []


def test_only_post_is_answered_and_a_workspace_slack_cannot_name_yet_is_asked_again(app):
    got = app.slack.get("/hooks/leads")
    assert got.status == 405 and json.loads(got.body) == {"ok": False, "error": "send leads with POST"}

    app.fake.script.fail("auth.test", error="invalid_auth")
    refused = send_lead(app, ACME)
    assert refused.status == 503 and "send the lead again" in refused.json["error"] and leads(app) == []
    assert send_lead(app, ACME).status == 202, "the workspace is asked for again, not remembered as unknown"


def test_forget_takes_a_lead_owner_out_of_their_leads_and_passes_the_open_ones_back(app):
    app.fake.users_by_email["dana.owner@acme.example"] = "U0DANA"
    send_lead(app, {"id": "L-1", "owner": "dana.owner@acme.example"})
    send_lead(app, {"id": "L-2", "owner": "U0DANA"})
    send_lead(app, {"id": "L-3", "owner": OWNER})
    app.settle()
    [card] = [post for post in posts_to(app, "U0DANA") if "L-2" in json.dumps(post)]
    app.slack.click(Ids.ACCEPT, buttons(card)[Ids.ACCEPT], user="U0DANA", channel="DU0DANA")
    app.settle()
    app.slack.command("/alignment", "admin add <@UADMIN>", user="UADMIN")

    app.slack.click("alignment.forget_confirm", "U0DANA", user="UADMIN")
    app.settle()
    app.crossfeed.outbox.deliver_due()  # the sweep's claim post, as the clock's `leads` job would route it
    from schedules.jobs import JOBS, JobRuntime
    JOBS["leads"](JobRuntime.of(app.crossfeed))
    app.settle()

    by_id = {lead.crm_id: lead for lead in leads(app)}
    assert (by_id["L-1"].status, by_id["L-1"].owner_user_id, by_id["L-1"].owner_given) == ("unassigned", None, None)
    assert (by_id["L-2"].status, by_id["L-2"].owner_user_id, by_id["L-2"].owner_given) == ("accepted", None, None)
    assert (by_id["L-3"].owner_user_id, by_id["L-3"].owner_given) == (OWNER, OWNER), "other owners keep theirs"
    with app.crossfeed.sessions() as session:
        assert session.scalars(select(SlackUserEmail.user_id)).all() == []
    text = json.dumps([[getattr(lead, c.name) for c in Lead.__table__.columns] for lead in leads(app)], default=str)
    assert "U0DANA" not in text and "dana.owner" not in text
    assert any("L-1" in json.dumps(post) for post in posts_to(app, SALES)), "the open lead is offered to claim"
