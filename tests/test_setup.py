"""/alignment setup: one modal for the whole configuration, saved all-or-nothing, admins only."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from storage import queries
from storage import teams as store
from storage.models import LeadRating, LeadSource, ReasonCode, Workspace
from tests.helpers import make_teams, open_round
from tests.test_digest import post_due


def submitted(view: dict, **changes) -> dict:
    """state.values as Slack sends them when the person saves the modal: what it was opened with, plus changes.

    A change is given by block id: a string, a list, or None to empty the input.
    """
    values: dict = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        element, block_id = block["element"], block["block_id"]
        kind = element["type"]
        value = changes.get(block_id, ...)
        if kind == "static_select":
            chosen = (element.get("initial_option") or {}).get("value") if value is ... else value
            state = {"selected_option": {"value": chosen} if chosen else None}
        elif kind == "users_select":
            state = {"selected_user": element.get("initial_user") if value is ... else value}
        elif kind == "multi_users_select":
            state = {"selected_users": element.get("initial_users", []) if value is ... else (value or [])}
        elif kind == "multi_conversations_select":
            state = {"selected_conversations": element.get("initial_conversations", []) if value is ... else
                     (value or [])}
        elif kind == "conversations_select":
            state = {"selected_conversation": element.get("initial_conversation") if value is ... else value}
        elif kind == "timepicker":
            state = {"selected_time": element.get("initial_time") if value is ... else value}
        elif kind == "checkboxes":
            ticked = element.get("initial_options") or [] if value is ... else [
                option for option in element["options"] if option["value"] in (value or [])]
            state = {"selected_options": ticked}
        else:
            state = {"value": element.get("initial_value") if value is ... else value}
        values[block_id] = {element["action_id"]: {"type": kind, **state}}
    return values


def open_setup(running, slack, *, user: str = "UADMIN") -> dict:
    running.fake.reset()
    reply = slack.command("/alignment", "setup", user=user)
    assert reply.status == 200
    [opened] = running.fake.wait_for("views.open")
    return opened.view


def config(crossfeed):
    with crossfeed.sessions() as session:
        return store.workspace_config(session=session, team_id="T1")


def codes(crossfeed, model) -> dict[str, tuple[str, bool]]:
    """code → (label, active)"""
    with crossfeed.sessions() as session:
        return {row.code: (row.label, row.retired_at is None) for row in session.scalars(select(model))}


def members(crossfeed) -> dict[str, str]:
    with crossfeed.sessions() as session:
        return {m.user_id: f"{m.side}/{m.origin}" for m in store.team_members(session=session, team_id="T1")}


@pytest.fixture
def admin(running, slack) -> str:
    slack.command("/alignment", "admin add <@UADMIN>", user="UADMIN")
    running.settle()
    return "UADMIN"


def test_the_modal_opens_prefilled_with_the_current_configuration(running, slack, admin):
    slack.command("/alignment", "digest channels <#C0LEAD|leadership>", user=admin)
    make_teams(running.crossfeed, sales=["U2"], marketing=["U3"], timezone="Europe/Paris")

    view = open_setup(running, slack)

    assert view["callback_id"] == "setup.modal" and len(view["blocks"]) <= 100
    inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert inputs["digest_channels"]["initial_conversations"] == ["C0LEAD"]
    assert inputs["sales_members"]["initial_users"] == ["U2"]
    assert inputs["marketing_members"]["initial_users"] == ["U3"]
    assert inputs["timezone"]["initial_value"] == "Europe/Paris"
    assert inputs["pulse_day"]["initial_option"]["value"] == "wed" and inputs["pulse_time"]["initial_time"] == "10:00"
    assert inputs["anonymity_threshold"]["min_value"] == "3"
    assert "no-budget: No budget" in inputs["bad_reasons"]["initial_value"]
    assert "great-fit: Great fit" in inputs["good_reasons"]["initial_value"]
    assert "paid-search: Paid search" in inputs["sources"]["initial_value"]
    assert "{other team}" in inputs["pulse_questions"]["initial_value"]
    assert "sales_usergroup" not in inputs, "no user groups in the workspace: no user-group pickers"


def test_non_admins_are_told_who_the_admins_are_and_get_no_modal(running, slack, admin):
    running.fake.reset()

    reply = slack.command("/alignment", "setup", user="U7")
    running.settle()

    assert "Only Crossfeed admins can do that. Ask one of them: <@UADMIN>." in reply.body
    assert running.fake.calls_to("views.open") == []


def test_the_first_person_to_run_setup_becomes_admin_and_gets_the_modal(running, slack):
    reply = slack.command("/alignment", "setup", user="U1")

    assert "first Crossfeed admin" in reply.body
    [opened] = running.fake.wait_for("views.open")
    assert opened.view["callback_id"] == "setup.modal"
    timezone = next(b for b in opened.view["blocks"] if b.get("block_id") == "timezone")
    assert timezone["element"]["initial_value"] == "America/New_York", "their Slack time zone, adopted first"


def test_saving_stores_everything_and_says_what_changed(running, slack, admin):
    view = open_setup(running, slack)
    bad = submitted(view)["bad_reasons"]["bad_reasons"]["value"]
    bad = bad.replace("no-budget: No budget", "no-budget: No budget this year").replace("duplicate: Duplicate\n", "")
    bad += "\n• No champion"
    sources = submitted(view)["sources"]["sources"]["value"] + "\nPartner webinar"

    reply = slack.submit(view, submitted(
        view, digest_channels=["C0LEAD", "C0EXEC"], sales_channel="C0SALES", lead_feed_channel="C0FEED",
        sales_members=["U2", "U3"], marketing_members=["U4"], leaders=["U5"], pulse_cadence="biweekly",
        pulse_day="fri", pulse_time="15:30", pulse_questions="Did {other team} help you win this week?\n\n",
        digest_day="tue", digest_time="08:00", timezone="Europe/Paris", anonymity_threshold="6", bad_reasons=bad,
        sources=sources,
    ), user=admin)

    assert reply.json["response_action"] == "update"
    saved = str(reply.json["view"])
    assert "Added 1 source (`partner-webinar`)" in saved
    assert "Added 1 reason code (`no-champion`)" in saved
    assert "Renamed 1 reason code (`no-budget`)" in saved and "Retired 1 reason code (`duplicate`)" in saved
    stored = config(running.crossfeed)
    assert stored.digest_channels == ["C0LEAD", "C0EXEC"]
    assert (stored.sales_channel, stored.lead_feed_channel, stored.leader_user_ids) == ("C0SALES", "C0FEED", ["U5"])
    assert (stored.pulse_cadence, stored.pulse_day, stored.pulse_time) == ("biweekly", "fri", "15:30")
    assert stored.pulse_questions == ["Did {other team} help you win this week?"]
    assert (stored.digest_day, stored.digest_time, stored.timezone) == ("tue", "08:00", "Europe/Paris")
    assert (stored.anonymity_threshold, stored.comment_threshold) == (6, 6), "comments never need fewer answers"
    assert members(running.crossfeed) == {"U2": "sales/explicit", "U3": "sales/explicit", "U4": "marketing/explicit"}
    reasons = codes(running.crossfeed, ReasonCode)
    assert reasons["no-budget"] == ("No budget this year", True) and reasons["duplicate"] == ("Duplicate", False)
    assert reasons["no-champion"] == ("No champion", True)
    assert codes(running.crossfeed, LeadSource)["partner-webinar"] == ("Partner webinar", True)
    rated = slack.command("/leadfeedback", "ACME-7 2 no-champion", user="U2")
    assert "No champion" in rated.body, "a new reason can be used right away"

    status = slack.command("/alignment", "status", user="U9").body
    assert "every two weeks on Fri at 15:30" in status and "every Tue at 08:00" in status
    assert "<#C0SALES>" in status and "<#C0FEED>" in status and "Europe/Paris" in status


def test_saving_the_modal_unchanged_changes_nothing_and_a_resubmit_is_harmless(running, slack, admin):
    view = open_setup(running, slack)
    before = codes(running.crossfeed, ReasonCode), codes(running.crossfeed, LeadSource)

    first = slack.submit(view, submitted(view), user=admin)
    again = slack.submit(view, submitted(view), user=admin)

    assert "Settings saved." in str(first.json["view"]) and "Settings saved." in str(again.json["view"])
    assert (codes(running.crossfeed, ReasonCode), codes(running.crossfeed, LeadSource)) == before
    assert config(running.crossfeed).pulse_questions is None, "the default questions stay the defaults"


def test_retired_codes_stay_on_past_ratings_and_can_be_brought_back(running, slack, admin):
    slack.command("/leadfeedback", "ACME-1 2 duplicate", user="U2")
    view = open_setup(running, slack)
    values = submitted(view)
    bad = values["bad_reasons"]["bad_reasons"]["value"].replace("duplicate: Duplicate\n", "")

    slack.submit(view, submitted(view, bad_reasons=bad), user=admin)

    refused = slack.command("/leadfeedback", "ACME-2 2 duplicate", user="U2")
    assert "“duplicate” isn't a reason code here" in refused.json["text"]
    assert "ACME-2" not in _rated_leads(running.crossfeed)
    mine = slack.command("/leadfeedback", "mine", user="U2")
    assert "Duplicate" in mine.body, "the old rating still shows its (retired) reason"

    view = open_setup(running, slack)
    assert "duplicate:" not in submitted(view)["bad_reasons"]["bad_reasons"]["value"]
    restored = slack.submit(view, submitted(view, bad_reasons=bad + "\nduplicate: Duplicate lead"), user=admin)
    assert "Restored 1 reason code (`duplicate`)" in str(restored.json["view"])
    assert codes(running.crossfeed, ReasonCode)["duplicate"] == ("Duplicate lead", True)
    with running.crossfeed.sessions() as session:
        assert session.scalar(select(ReasonCode.id).where(ReasonCode.code == "duplicate")) is not None
        assert len(session.scalars(select(ReasonCode).where(ReasonCode.code == "duplicate")).all()) == 1


def _rated_leads(crossfeed) -> list[str]:
    with crossfeed.sessions() as session:
        return list(session.scalars(select(LeadRating.lead_ref)))


@pytest.mark.parametrize(("changes", "block", "says"), [
    ({"anonymity_threshold": "2"}, "anonymity_threshold", "fewer than 3 answers"),
    ({"timezone": "Mars/Olympus"}, "timezone", "isn't a time zone I know"),
    ({"bad_reasons": ""}, "bad_reasons", "at least one reason"),
    ({"sources": ":"}, "sources", "needs a code and a label"),
    ({"sources": "email: Email\nemail: Newsletter"}, "sources", "listed twice"),
    ({"good_reasons": "no-budget: No budget"}, "good_reasons", "both a good and a bad reason"),
    ({"sales_members": ["U2"], "marketing_members": ["U2"]}, "marketing_members", "1 person is picked for both teams"),
    ({"pulse_questions": "\n".join(f"Question {n}?" for n in range(6))}, "pulse_questions", "between 1 and 5"),
    ({"pulse_time": None}, "pulse_time", "Pick a time of day"),
    ({"pulse_reminder_hours": "72"}, "pulse_reminder_hours", "Remind before the round closes"),
    ({"skipped_pulse_weeks": "2026-W52, 2026-W99"}, "skipped_pulse_weeks", "2026 has no week 99"),
    ({"ask_open_days": "91"}, "ask_open_days", "from 1 to 90"),
    ({"alignment_target": "-5"}, "alignment_target", "from 0 to 100"),
    ({"lead_quality_target": "good"}, "lead_quality_target", "isn't a target I can read"),
])
def test_bad_input_is_shown_on_its_field_and_nothing_is_stored(running, slack, admin, changes, block, says):
    view = open_setup(running, slack)
    before = codes(running.crossfeed, ReasonCode), members(running.crossfeed)
    changes = {"digest_channels": ["C0LEAD"], "timezone": "Asia/Tokyo", **changes}

    reply = slack.submit(view, submitted(view, **changes), user=admin)

    assert reply.json["response_action"] == "errors"
    assert says in reply.json["errors"][block]
    stored = config(running.crossfeed)
    assert stored.digest_channels == [] and stored.timezone != "Asia/Tokyo", "nothing half-written"
    assert (codes(running.crossfeed, ReasonCode), members(running.crossfeed)) == before


def test_someone_no_longer_admin_cannot_save(running, slack, admin):
    view = open_setup(running, slack)

    reply = slack.submit(view, submitted(view, digest_channels=["C0LEAD"]), user="U7")

    assert "Only Crossfeed admins" in str(reply.json["view"])
    assert config(running.crossfeed).digest_channels == []


def test_user_groups_are_picked_in_the_modal_and_read_after_saving(running, slack, admin):
    running.fake.usergroups = {"S0SALES": ["U2", "U3"], "S0MKTG": ["U4"]}
    make_teams(running.crossfeed, sales=["U9"], marketing=[])
    view = open_setup(running, slack)
    options = next(b for b in view["blocks"] if b.get("block_id") == "sales_usergroup")["element"]["options"]
    assert [o["text"]["text"] for o in options][1:] == ["@s0sales", "@s0mktg"]

    slack.submit(view, submitted(view, sales_usergroup="S0SALES", marketing_usergroup="S0MKTG"), user=admin)
    running.settle()

    assert {c.params["usergroup"] for c in running.fake.calls_to("usergroups.users.list")} == {"S0SALES", "S0MKTG"}
    assert members(running.crossfeed) == {"U2": "sales/usergroup", "U3": "sales/usergroup",
                                          "U4": "marketing/usergroup", "U9": "sales/explicit"}

    view = open_setup(running, slack)
    slack.submit(view, submitted(view, marketing_usergroup="-"), user=admin)
    running.settle()

    assert config(running.crossfeed).marketing_usergroup_id is None
    assert "U4" not in members(running.crossfeed), "no user group any more: its people leave the team"
    assert members(running.crossfeed)["U2"] == "sales/usergroup"


def test_a_schedule_changed_in_setup_is_used_by_the_next_run_without_a_restart(running, slack, admin):
    make_teams(running.crossfeed, sales=["U2"], marketing=["U3"], timezone="America/New_York")
    with running.crossfeed.transaction() as session:  # in use for a month: its past weeks get digests
        session.execute(update(Workspace).values(created_at=datetime.fromisoformat("2026-11-01T00:00:00+00:00")))
    view = open_setup(running, slack)
    slack.submit(view, submitted(view, pulse_day="thu", pulse_time="09:00", digest_channels=["C0LEAD"],
                                 digest_day="tue", digest_time="08:00"), user=admin)

    wednesday_ten = datetime.fromisoformat("2026-11-25T15:00:00+00:00")
    thursday_nine = datetime.fromisoformat("2026-11-26T14:00:00+00:00")
    assert open_round(running.crossfeed, wednesday_ten).startswith("pulse: 0 round(s)")
    assert open_round(running.crossfeed, thursday_nine - timedelta(minutes=1)).startswith("pulse: 0 round(s)")
    assert open_round(running.crossfeed, thursday_nine).startswith("pulse: 1 round(s) opened")
    monday_nine = datetime.fromisoformat("2026-11-30T14:00:00+00:00")
    tuesday_eight = datetime.fromisoformat("2026-12-01T13:00:00+00:00")
    assert post_due(running.crossfeed, monday_nine) == []
    assert [o.result for o in post_due(running.crossfeed, tuesday_eight)] == ["posted"]


def test_channels_from_setup_are_used_by_messaging_asks_and_the_lead_feed(running, slack, admin):
    view = open_setup(running, slack)
    slack.submit(view, submitted(view, sales_channel="C0SALES", lead_feed_channel="C0FEED"), user=admin)

    running.fake.reset()
    slack.command("/messaging", "ask", user="U4")
    [ask] = running.fake.wait_for("views.open")
    channel = next(b for b in ask.view["blocks"] if b.get("block_id") == "messaging.channel")
    assert channel["element"]["initial_conversation"] == "C0SALES"

    slack.command("/leadfeedback", "ACME-9 1 spam", user="U2")
    running.settle()
    [posted] = [c for c in running.fake.calls_to("chat.postMessage", succeeded=True) if "ACME-9" in str(c.params)]
    assert posted.params["channel"] == "C0FEED"


def test_help_lists_every_command_with_an_example(running, slack):
    from bot.admin_commands import COMMANDS
    from tests.test_manifest_and_home import manifest

    text = slack.command("/alignment", "help", user="U7").json
    shown = " ".join(block["text"]["text"] for block in text["blocks"])

    for command in manifest()["features"]["slash_commands"]:
        assert f"`{command['command']}" in shown
    for name in [*COMMANDS, "status", "digest last"]:
        assert f"`/alignment {name}" in shown, name


@pytest.mark.parametrize(("command", "text", "says"), [
    ("/pulse", "", "/alignment setup"),
    ("/alignment", "digest", "/alignment setup"),
    ("/alignment", "status", "Crossfeed status"),
    ("/messaging", "", "/messaging ask"),
    ("/leadfeedback", "ACME-1 2 no-budget", "ACME-1"),
])
def test_a_workspace_with_nothing_configured_gets_pointers_or_working_defaults(running, slack, command, text, says):
    reply = slack.command(command, text, user="U2")

    assert reply.status == 200 and says in reply.body
    assert "reference" not in reply.body and ":warning:" not in reply.body


def test_a_source_a_rep_adds_while_the_modal_is_open_is_kept(running, slack, admin):
    view = open_setup(running, slack)
    with running.crossfeed.transaction() as session:
        queries.add_source(session=session, team_id="T1", code="g2-reviews", label="G2 reviews", created_by="U2")
    sources = submitted(view)["sources"]["sources"]["value"].replace("email: Email\n", "")

    slack.submit(view, submitted(view, sources=sources), user=admin)

    saved = codes(running.crossfeed, LeadSource)
    assert saved["g2-reviews"] == ("G2 reviews", True), "not in the modal, so not retired"
    assert saved["email"] == ("Email", False)


def test_sources_that_do_not_fit_the_modal_are_named_and_kept(running, slack, admin):
    with running.crossfeed.transaction() as session:
        queries.ensure_workspace(session=session, team_id="T1")
        for n in range(45):
            queries.add_source(session=session, team_id="T1", code=f"campaign-{n:02d}",
                               label=f"Spring campaign number {n:02d} with a long descriptive label", created_by="U2")
    view = open_setup(running, slack)
    block = next(b for b in view["blocks"] if b.get("block_id") == "sources")
    shown = block["element"]["initial_value"].splitlines()
    hidden = 12 + 45 - len(shown)
    assert len(block["element"]["initial_value"]) <= 3000 and hidden > 0
    assert f"{hidden} more don't fit here and stay as they are" in block["hint"]["text"]
    assert all(": " in line for line in shown), "whole lines only"

    slack.submit(view, submitted(view), user=admin)

    assert all(active for _, active in codes(running.crossfeed, LeadSource).values())


def _block(view: dict, block_id: str) -> dict:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


def test_sources_typed_by_reps_are_listed_for_admins_and_adding_one_files_its_ratings(running, slack, admin):
    for user, lead, typed in [("U1", "A-1", "webinarz"), ("U2", "A-2", "Webinarz"), ("U3", "A-3", "webinarz"),
                              ("U1", "A-4", "g2")]:
        slack.command("/leadfeedback", f"{lead} 2 no-budget source:{typed}", user=user)

    view = open_setup(running, slack)

    blocks = [b.get("block_id") or b["type"] for b in view["blocks"]]
    typed = view["blocks"][blocks.index("sources") + 1]
    assert typed["type"] == "context", "listed under the sources field"
    assert "Typed by reps, not yet sources:* Webinarz (3), g2 (1)." in typed["elements"][0]["text"]

    sources = submitted(view)["sources"]["sources"]["value"] + "\nwebinarz: Webinarz"
    reply = slack.submit(view, submitted(view, sources=sources), user=admin)

    assert "Moved 3 ratings from Other to the source their rep typed" in json.dumps(reply.json, ensure_ascii=False)
    with running.crossfeed.sessions() as session:
        filed = {r.lead_ref: (r.source.code, r.source_text) for r in session.scalars(select(LeadRating))}
    assert filed == {"A-1": ("webinarz", None), "A-2": ("webinarz", None), "A-3": ("webinarz", None),
                     "A-4": ("other", "g2")}
    again = open_setup(running, slack)
    blocks = [b.get("block_id") or b["type"] for b in again["blocks"]]
    assert "not yet sources:* g2 (1)." in again["blocks"][blocks.index("sources") + 1]["elements"][0]["text"]


def test_the_typed_sources_list_is_escaped_and_cut(running, slack, admin):
    slack.command("/leadfeedback", 'A-0 2 source:"&lt;!channel&gt;"', user="U1")
    for n in range(25):
        slack.command("/leadfeedback", f"A-{n + 1} 2 source:made-up-{n:02d}", user="U1")

    view = open_setup(running, slack)

    text = next(b for b in view["blocks"] if b["type"] == "context" and "Typed by reps" in str(b))
    shown = text["elements"][0]["text"]
    assert "<!channel>" not in shown and "&lt;!channel&gt; (1)" in shown
    assert ", and 6 more." in shown


def test_admins_can_let_reps_add_sources_by_typing(running, slack, admin):
    view = open_setup(running, slack)
    switch = _block(view, "allow_new_sources")
    assert switch["optional"] and switch["element"]["type"] == "checkboxes"
    assert not switch["element"].get("initial_options"), "off by default"

    slack.submit(view, submitted(view, allow_new_sources=["allow"]), user=admin)

    assert config(running.crossfeed).allow_new_sources
    slack.command("/leadfeedback", "A-1 2 source:g2", user="U1")
    with running.crossfeed.sessions() as session:
        [rating] = session.scalars(select(LeadRating)).all()
        assert (rating.source.code, rating.source_text) == ("g2", None)

    again = open_setup(running, slack)
    assert [o["value"] for o in _block(again, "allow_new_sources")["element"]["initial_options"]] == ["allow"]
    slack.submit(again, submitted(again, allow_new_sources=[]), user=admin)

    assert not config(running.crossfeed).allow_new_sources
    slack.command("/leadfeedback", "A-2 2 source:capterra", user="U1")
    assert "capterra" not in codes(running.crossfeed, LeadSource)
