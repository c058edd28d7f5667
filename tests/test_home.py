"""The App Home tab: what each role sees, the first run, refreshing after acting, and Slack's limits."""

from __future__ import annotations

import json
import logging
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time
from slack_sdk.models.views import View
from sqlalchemy import select

from bot.blocks.home import home_view, sparkline
from bot.blocks.ids import HomeIds, LeadFeedbackIds, PulseIds
from bot.blocks.ids import MessagingIds as Ids
from bot.home import home_summary
from bot.leads import LeadRatingInput, parse_quick_rating, rate_lead
from bot.messaging import AnswerInput, AskInput, create_ask, record_answer
from bot.pulse import DEFAULT_QUESTIONS
from storage import pulse as pulse_store
from storage import teams as team_store
from storage.models import OutboxMessage
from tests.helpers import TEAM, outbox
from tests.test_digest import seed_leads

NY = ZoneInfo("America/New_York")
# Wednesday 25 November 2026, noon in New York: 2026-W48 so far; the last complete week is 2026-W47.
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=NY)
W47 = datetime(2026, 11, 18, 12, 0, tzinfo=NY)
SALES, MARKETING = ("U1", "U2", "U3", "U4"), ("M1", "M2", "M3")


# --- building the data ------------------------------------------------------------------------


def setup_teams(crossfeed, *, sales=SALES, marketing=MARKETING, leaders=(), admins=()):
    with crossfeed.transaction() as session:
        config = team_store.workspace_config(session=session, team_id=TEAM)
        config.timezone = "America/New_York"
        config.leader_user_ids = list(leaders)
        team_store.put_members(session=session, team_id=TEAM, user_ids=list(sales), side="sales", origin="explicit")
        team_store.put_members(session=session, team_id=TEAM, user_ids=list(marketing), side="marketing",
                               origin="explicit")
        team_store.add_admins(session=session, team_id=TEAM, user_ids=list(admins), added_by=None)


def rate(crossfeed, user, text, at, **fields):
    """Rate a lead as the one-line form would (`text`), or from the modal's fields (`lead=…, rating=…`)."""
    rating = LeadRatingInput.parse(fields) if fields else parse_quick_rating(text)
    with crossfeed.transaction() as session:
        return rate_lead(session=session, team_id=TEAM, user_id=user, rating=rating, now=at)


def ask(crossfeed, asker, name, at, *, channel="C_SALES", people=(), days=14, key=None):
    with crossfeed.transaction() as session:
        return create_ask(session=session, team_id=TEAM, user_id=asker,
                          ask=AskInput(name=name, channel_id=channel, days=days), recipients=list(people),
                          submission_key=key or f"{asker}-{name}", now=at).ask


def answer(crossfeed, user, ask_id, reaction, at):
    with crossfeed.transaction() as session:
        record_answer(session=session, team_id=TEAM, user_id=user, ask_id=ask_id, now=at,
                      answer=AnswerInput(reaction=reaction, used_in=[] if reaction == "not_used" else ["call"]))


def pulse_round(crossfeed, period, opens_at, *, answered=(), hours=72):
    with crossfeed.transaction() as session:
        round_id = pulse_store.create_round(
            session=session, team_id=TEAM, period=period, opens_at=opens_at, remind_at=opens_at + timedelta(days=1),
            closes_at=opens_at + timedelta(hours=hours), questions=list(DEFAULT_QUESTIONS), sales_name="Sales",
            marketing_name="Marketing")
        members = pulse_store.members_with_zones(session=session, team_id=TEAM)
        pulse_store.enrol(session=session, team_id=TEAM, round_id=round_id,
                          people=[(user, side, opens_at, None) for user, side, _ in members])
        for user in answered:
            pulse_store.mark_answered(session=session, round_id=round_id, user_ids=[user])
    return round_id


class OneTransaction:
    """Stands in for the runtime in the helpers above, so that what they write goes into one transaction."""

    def __init__(self, session):
        self.session = session

    @contextmanager
    def transaction(self):
        yield self.session


def summary_of(crossfeed, user, now=NOW, **kwargs):
    with crossfeed.transaction() as session:
        return home_summary(session=session, team_id=TEAM, user_id=user, now=now, **kwargs)


def view_of(crossfeed, user, now=NOW, **kwargs) -> dict:
    # to_dict() runs slack-sdk's validators: 100 blocks, text and button limits.
    return home_view(summary_of(crossfeed, user, now, **kwargs)).to_dict()


def shown(view: dict) -> str:
    return json.dumps(view, ensure_ascii=False)


def actions(view: dict) -> list[tuple[str, str | None]]:
    found = []
    for block in view["blocks"]:
        for element in [*block.get("elements", []), block.get("accessory") or {}]:
            if element.get("type") == "button":
                found.append((element["action_id"], element.get("value")))
    return found


def headers(view: dict) -> list[str]:
    return [b["text"]["text"] for b in view["blocks"] if b["type"] == "header"]


# --- talking to the running app ---------------------------------------------------------------


def open_home(slack, user="U1", tab="home"):
    event = {"type": "event_callback", "team_id": TEAM, "api_app_id": "A1", "event_id": f"Ev{time.time_ns()}",
             "event_time": 1, "event": {"type": "app_home_opened", "user": user, "channel": "D1", "tab": tab},
             "authorizations": [{"team_id": TEAM, "user_id": "UBOT", "is_bot": True}]}
    return slack.post(json.dumps(event), content_type="application/json")


def home_rows(session) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "home").order_by(OutboxMessage.id)))


def published(fake, user, *, count=1, timeout=15) -> list[dict]:
    """The Home views published for `user`, once there are at least `count` of them."""
    deadline = time.monotonic() + timeout
    while True:
        views = [c.view for c in fake.calls_to("views.publish") if c.params["user_id"] == user]
        if len(views) >= count or time.monotonic() > deadline:
            assert len(views) >= count, f"expected {count} views.publish for {user}, got {len(views)}"
            return views
        time.sleep(0.01)


def click_in_home(slack, action_id, value=None, *, user="U1", block_id="b1"):
    action = {"type": "button", "action_id": action_id, "block_id": block_id, "action_ts": "1.2",
              "text": {"type": "plain_text", "text": "Button"}, **({"value": value} if value else {})}
    payload = {"type": "block_actions", "team": {"id": TEAM, "domain": "acme"},
               "user": {"id": user, "team_id": TEAM}, "api_app_id": "A1", "trigger_id": "13345.trigger",
               "container": {"type": "view", "view_id": "VHOME"}, "actions": [action],
               "view": {"id": "VHOME", "type": "home", "callback_id": "", "private_metadata": "", "blocks": []}}
    return slack.interactive(payload)


# --- everyone ---------------------------------------------------------------------------------


def test_a_rep_sees_what_waits_for_them_and_their_recent_activity(running, slack):
    now = datetime.now(UTC)  # the app reads the real clock on its own threads
    crossfeed = running.crossfeed
    setup_teams(crossfeed)
    pulse_round(crossfeed, "2020-W01", now - timedelta(days=21), answered=["U1"])
    pulse_round(crossfeed, "2020-W02", now - timedelta(days=14))
    pulse_round(crossfeed, "2020-W03", now - timedelta(hours=1))
    roi = ask(crossfeed, "M1", "Q4 ROI talk track", now - timedelta(days=1))
    ask(crossfeed, "M1", "Battlecard for U2 only", now - timedelta(days=1), channel=None, people=["U2"])
    answered = ask(crossfeed, "M2", "Pricing one-pager", now - timedelta(days=2))
    answer(crossfeed, "U1", answered.id, "resonated", now - timedelta(hours=3))
    rate(crossfeed, "U1", 'ACME-4411 2 no-budget source:webinar "only wanted pricing"', now - timedelta(hours=2))
    running.settle()
    running.fake.reset()  # the refreshes those changes asked for

    assert open_home(slack, "U1").status == 200
    [view] = published(running.fake, "U1")

    text = shown(view)
    buttons = dict(actions(view))
    assert LeadFeedbackIds.RATE_ANOTHER in buttons and HomeIds.ANSWER_PULSE in buttons
    assert "alignment pulse is waiting for you" in text
    assert "Q4 ROI talk track" in text and json.loads(buttons["messaging.react.resonated"]) == {"a": roi.id,
                                                                                               "r": "resonated"}
    assert "Battlecard for U2 only" not in text, "a DM'd ask shows only to the people it was sent to"
    assert "Pricing one-pager" in text and "Resonated" in text  # answered: in the activity, not waiting
    assert text.count("Pricing one-pager") == 1
    assert "ACME-4411" in text and "2/5" in text and "No budget" in text and "Webinar" in text
    assert json.loads(buttons[LeadFeedbackIds.EDIT])["rating_id"] > 0
    assert "you answered 1 of the 3 rounds you were asked in" in text
    assert "2020-W01: answered" in text and "2020-W02: missed" in text and "2020-W03: open until" in text
    assert headers(view) == ["Crossfeed"], "no marketing or leadership sections for a rep"


def test_a_dm_ask_shows_to_its_recipients_only_and_nobody_sees_their_own_ask(crossfeed):
    setup_teams(crossfeed, sales=(*SALES, "U22"))
    ask(crossfeed, "M1", "Battlecard", NOW - timedelta(days=1), channel=None, people=["U22", "U3"])

    assert "Battlecard" in shown(view_of(crossfeed, "U22")) and "Battlecard" in shown(view_of(crossfeed, "U3"))
    assert "Battlecard" not in shown(view_of(crossfeed, "U2")), "U2 is only the start of U22"
    assert summary_of(crossfeed, "M1").asks_to_answer.total == 0


def test_only_the_sales_team_is_offered_asks_to_answer(running, slack):
    now = datetime.now(UTC)
    crossfeed = running.crossfeed
    setup_teams(crossfeed, leaders=["L1"])
    ask(crossfeed, "M1", "Q4 ROI talk track", now - timedelta(hours=1))

    for user in ("U1", "M2", "L1"):
        assert open_home(slack, user).status == 200
    homes = {user: published(running.fake, user)[0] for user in ("U1", "M2", "L1")}

    assert "Q4 ROI talk track" in shown(homes["U1"]) and "messaging.react.resonated" in shown(homes["U1"])
    for outside_sales in ("M2", "L1"):  # a marketer, and a leader in no team
        text = shown(homes[outside_sales])
        assert "waiting for your answer" not in text and "messaging.react" not in text
        assert "Nothing is waiting for you" in text


def test_with_no_teams_set_up_everyone_is_offered_asks(crossfeed):
    setup_teams(crossfeed, sales=(), marketing=())
    ask(crossfeed, "M1", "Q4 ROI talk track", NOW - timedelta(hours=1))

    assert summary_of(crossfeed, "M2").asks_to_answer.total == 1


def test_nothing_waiting_is_said_plainly(crossfeed):
    setup_teams(crossfeed)

    view = view_of(crossfeed, "U1")

    assert "Nothing is waiting for you" in shown(view)
    assert [a for a, _ in actions(view)] == [LeadFeedbackIds.RATE_ANOTHER]
    assert "You haven't rated a lead yet" in shown(view)


def test_other_tabs_are_left_alone(running, slack):
    assert open_home(slack, "U1", tab="messages").status == 200
    running.settle()
    assert not running.fake.calls_to("views.publish")


# --- marketers --------------------------------------------------------------------------------


def test_a_marketer_sees_their_open_asks_with_tallies_and_this_weeks_lead_quality_by_source(crossfeed):
    setup_teams(crossfeed)
    mine = ask(crossfeed, "M1", "Q4 ROI talk track", NOW - timedelta(days=2))
    answer(crossfeed, "U1", mine.id, "resonated", NOW - timedelta(hours=5))
    answer(crossfeed, "U2", mine.id, "flat", NOW - timedelta(hours=4))
    answer(crossfeed, "U3", mine.id, "not_used", NOW - timedelta(hours=3))
    ask(crossfeed, "M1", "Old webinar deck", NOW - timedelta(days=10), days=3)  # closed by now
    ask(crossfeed, "M2", "Someone else's ask", NOW - timedelta(days=1))
    for user, text in [("U1", "A-1 2 source:webinar"), ("U2", "A-2 1 source:webinar"),
                       ("U3", "A-3 5 source:paid-search"), ("U4", "A-4 3")]:
        rate(crossfeed, user, text, NOW - timedelta(hours=1))
    rate(crossfeed, "U1", "OLD-1 5 source:email", W47)  # last week: not counted

    view = view_of(crossfeed, "M1")
    text = shown(view)

    assert headers(view) == ["Crossfeed", "For marketing"]
    assert "You're in *Marketing*" in text
    marketing = text[text.index("For marketing"):]
    assert "Q4 ROI talk track" in marketing and "3 reps answered" in marketing
    assert "Resonated 1" in marketing and "Fell flat 1" in marketing and "resonance 50%" in marketing
    assert "Old webinar deck" not in text and "Someone else's ask" not in marketing
    assert "Lead quality this week* (2026-W48 so far)" in marketing
    assert "4 by 4 reps" in marketing and "2.8/5" in marketing and "25% / 50%" in marketing
    sources = marketing[marketing.index("By source"):]
    assert sources.index("Paid search: 5.0 (1)") < sources.index("No source: 3.0 (1)") < sources.index(
        "Webinar: 1.5 (2)")
    assert "Email" not in sources
    assert "All sources, not only yours" in marketing


def test_a_marketer_without_asks_is_shown_how_to_ask(crossfeed):
    setup_teams(crossfeed)

    text = shown(view_of(crossfeed, "M1"))

    assert "`/messaging ask`" in text and "No leads have been rated yet this week" in text


# --- leaders and admins -----------------------------------------------------------------------


@pytest.mark.parametrize("who", ["leader", "admin", "configured admin"])
def test_leaders_and_admins_see_last_weeks_digest_and_the_trend(crossfeed, who):
    setup_teams(crossfeed, leaders=["L1"] if who == "leader" else [], admins=["L1"] if who == "admin" else [])
    seed_leads(crossfeed)  # last week's numbers, checked by hand in test_digest
    configured = frozenset({"L1"}) if who == "configured admin" else frozenset()

    view = view_of(crossfeed, "L1", configured_admins=configured)
    text = shown(view)

    assert headers(view) == ["Crossfeed", "Alignment last week · 2026-W47 · Nov 16–22"]
    assert ("a leader" if who == "leader" else "a Crossfeed admin") in text
    assert "Alignment index: 50/100* ▼25 pts :red_circle: _worse_\\nleads 50" in text
    assert "Lead quality fell 1.0 points to 3.0/5" in text and "Webinar leads averaged 1.7/5" in text
    assert "7 by 3 of 4 reps" in text and "3.0/5 ▼1.0 :red_circle: _worse_" in text
    assert "2-week trend* (2026-W46 to 2026-W47, 1–5)" in text, "from the first week with data"
    assert "Lead quality  ▆▅  3.0" in text
    assert "`/alignment digest last`" in text


def test_a_quiet_week_tells_leaders_there_is_nothing_yet(crossfeed):
    setup_teams(crossfeed, leaders=["L1"])

    text = shown(view_of(crossfeed, "L1"))

    assert "No feedback last week" in text and "12-week trend" not in text


def test_the_trend_shows_pulse_alignment_only_above_the_anonymity_threshold(crossfeed):
    setup_teams(crossfeed, leaders=["L1"])
    round_id = pulse_round(crossfeed, "2026-W47", W47 - timedelta(hours=2))
    with crossfeed.transaction() as session:
        for n, (side, score) in enumerate([("sales", 4), ("sales", 5), ("sales", 3), ("marketing", 2)]):
            pulse_store.save_answer(session=session, team_id=TEAM, round_id=round_id, respondent=f"token-{n:04d}",
                                    question=0, side=side, score=score)

    text = shown(view_of(crossfeed, "L1"))

    assert "Lead quality     ·  –\\nSales alignment  ▆  4.0" in text
    assert "Marketing alignment" not in text, "one marketing answer is below the threshold of 3"
    assert "Sales 4.0 · Marketing hidden" in text


def test_sparkline_maps_the_1_to_5_scale_and_marks_missing_weeks():
    assert sparkline((1, 2, 3, 4, 5, None)) == "▁▃▅▆█·"


# --- several roles, first run -----------------------------------------------------------------


def test_a_marketer_who_leads_and_administers_gets_every_section_in_order(crossfeed):
    setup_teams(crossfeed, leaders=["M1"], admins=["M1"])
    seed_leads(crossfeed)  # last week's numbers, checked by hand in test_digest
    rate(crossfeed, "M1", "SELF-1 4", NOW - timedelta(hours=1))

    view = view_of(crossfeed, "M1")
    text = shown(view)

    assert headers(view) == ["Crossfeed", "For marketing", "Alignment last week · 2026-W47 · Nov 16–22"]
    assert "You're in *Marketing* · a leader · a Crossfeed admin." in text
    assert text.index("Your recent activity") < text.index("For marketing") < text.index("Alignment last week")
    assert "SELF-1" in text and "isn't set up yet" not in text


@pytest.mark.parametrize("admins, user, expected", [
    ((), "U9", "Whoever runs `/alignment setup` first becomes its admin"),
    (("A1",), "A1", "Run `/alignment setup` to pick the sales and marketing teams"),
    (("A1",), "U9", "an admin still has to run `/alignment setup`"),
])
def test_first_run_points_to_setup(crossfeed, admins, user, expected):
    setup_teams(crossfeed, sales=(), marketing=(), admins=admins)

    view = view_of(crossfeed, user)

    assert "Crossfeed isn't set up yet" in shown(view) and expected in shown(view)
    assert LeadFeedbackIds.RATE_ANOTHER in dict(actions(view)), "rating leads works before setup"


def test_first_run_through_slack_on_a_fresh_workspace(running, slack):
    assert open_home(slack, "U1").status == 200

    [view] = published(running.fake, "U1")
    assert "`/alignment setup`" in shown(view)


# --- escaping and limits ----------------------------------------------------------------------


def test_user_text_is_escaped(crossfeed):
    setup_teams(crossfeed, leaders=["U1"])
    hostile = ask(crossfeed, "M2", "<!channel> & <https://evil.example|win>", NOW - timedelta(days=1))
    answer(crossfeed, "U1", hostile.id, "mixed", NOW - timedelta(hours=1))
    rate(crossfeed, "U1", None, NOW - timedelta(hours=1), lead="<@U0ADMIN> & co", rating=2, new_source="<!here>")

    text = shown(view_of(crossfeed, "U1"))

    assert "<!channel>" not in text and "<!here>" not in text and "<@U0ADMIN>" not in text
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|win&gt;" in text
    assert "&lt;@U0ADMIN&gt; &amp; co" in text


def test_lots_of_data_is_cut_with_and_n_more_inside_100_blocks(crossfeed):
    setup_teams(crossfeed, leaders=["M1", "U1"], admins=["M1"])
    # All of it in one unit of work: each commit would refresh the Homes of everyone it touched in the
    # background (about 200 refreshes, ever bigger), which this test doesn't look at.
    with crossfeed.transaction() as session:
        data = OneTransaction(session)
        seed_leads(data)  # last week's numbers, checked by hand in test_digest
        team_store.workspace_config(session=session, team_id=TEAM).allow_new_sources = True  # 30 sources
        for n in range(30):
            ask(data, "M2", f"Ask to answer {n}", NOW - timedelta(days=1))
            mine = ask(data, "M1", f"My ask {n}", NOW - timedelta(days=1))
            answer(data, "U1", ask(data, "M3", f"Answered {n}", NOW - timedelta(days=1)).id, "resonated",
                   NOW - timedelta(hours=2))
            answer(data, "U1", mine.id, "flat", NOW - timedelta(hours=1))
            rate(data, "M1", None, NOW - timedelta(hours=1), lead=f"LEAD-{n}", rating=3, new_source=f"Source {n}")
            rate(data, "U1", None, NOW - timedelta(days=21), lead=f"REP-LEAD-{n}", rating=4)

    marketer, rep = view_of(crossfeed, "M1"), view_of(crossfeed, "U1")

    assert len(marketer["blocks"]) <= 100 and len(rep["blocks"]) <= 100
    assert "…and 25 more: `/messaging` lists every open ask." in shown(rep)
    assert "…and 25 more: `/leadfeedback mine`" in shown(marketer)
    assert "…and 25 more: `/messaging results`" in shown(marketer)
    assert "…and 22 more" in shown(marketer)  # sources: 8 of 30 shown

    # Even a Home asked to list far more stays a valid view, cut at 100 blocks.
    big = home_view(summary_of(crossfeed, "U1", limit=40)).to_dict()
    assert len(big["blocks"]) == 100 and big["blocks"][-1]["type"] == "context"
    assert "more" in big["blocks"][-1]["elements"][0]["text"]
    View(**big).to_dict()


# --- refreshing after acting ------------------------------------------------------------------


def test_rating_a_lead_in_one_line_refreshes_the_raters_home(running, slack):
    setup_teams(running.crossfeed)

    reply = slack.command("/leadfeedback", 'ACME-4411 2 no-budget "only wanted pricing"', user="U1")

    assert reply.status == 200 and "ACME-4411" in reply.body
    [view] = published(running.fake, "U1")
    assert "ACME-4411" in shown(view) and "2/5" in shown(view)


def test_reading_or_failing_to_save_does_not_refresh_home(running, slack):
    setup_teams(running.crossfeed)
    slack.command("/leadfeedback", "mine", user="U1")
    slack.command("/leadfeedback", "ACME-4411 9", user="U1")
    slack.command("/pulse", "results", user="U1")
    running.settle()

    assert not running.fake.calls_to("views.publish")
    assert not [m for m in outbox(running.crossfeed) if m.kind == "home"]


def test_changes_made_together_share_one_refresh(running):
    setup_teams(running.crossfeed)
    now = datetime.now(UTC)

    with running.crossfeed.transaction() as session:
        for n in range(3):
            rate_lead(session=session, team_id=TEAM, user_id="U1", rating=parse_quick_rating(f"ACME-{n} 4"), now=now)
        [pending] = [(m.status, m.requests) for m in home_rows(session)]
    running.settle()

    assert pending == ("pending", 3), "one row for the person, however many changes asked for it"
    [view] = published(running.fake, "U1")
    assert all(f"ACME-{n}" in shown(view) for n in range(3))


def test_a_refresh_asked_for_again_after_it_was_sent_re_arms_the_same_row(running):
    setup_teams(running.crossfeed)
    rate(running.crossfeed, "U1", "ACME-1 4", datetime.now(UTC))
    running.settle()
    rate(running.crossfeed, "U1", "ACME-2 4", datetime.now(UTC))
    running.settle()

    assert "ACME-2" in shown(published(running.fake, "U1", count=2)[-1])
    with running.crossfeed.sessions() as session:
        assert [(m.dedupe_key, m.status) for m in home_rows(session)] == [("home:U1", "sent")]


def test_a_change_made_while_the_refresh_is_being_sent_leads_to_one_more(running, monkeypatch):
    """No lost update: the first publish was composed before the second rating, so it must not be the last."""
    setup_teams(running.crossfeed)
    outbox_runtime, real_client = running.crossfeed.outbox, running.crossfeed.client
    publishes = []

    class RatingWhilePublishing:
        def __getattr__(self, name):
            return getattr(real_client, name)

        def views_publish(self, **kwargs):
            publishes.append(kwargs)
            if len(publishes) == 1:  # a second request commits while the first view is on its way
                rate(running.crossfeed, "U1", "ACME-2 4", datetime.now(UTC))
            return real_client.views_publish(**kwargs)

    monkeypatch.setattr(outbox_runtime, "client_for", lambda team_id: RatingWhilePublishing())
    rate(running.crossfeed, "U1", "ACME-1 4", datetime.now(UTC))
    running.settle()

    views = published(running.fake, "U1", count=2)
    assert len(views) == 2 and "ACME-2" not in shown(views[0]) and "ACME-2" in shown(views[1])
    with running.crossfeed.sessions() as session:
        assert [m.status for m in home_rows(session)] == ["sent"]


def test_opening_a_pulse_round_by_the_clock_refreshes_the_homes_people_have(running, slack):
    """A Home already published is refreshed to show the pulse; one never published isn't (nothing to update),
    and shows the pulse when its person first opens it."""
    from tests.helpers import OPENING, make_teams, open_round

    make_teams(running.crossfeed, sales=["S1", "S2"], marketing=["M1"])
    with freeze_time(OPENING - timedelta(hours=1)):
        for user in ("S1", "M1"):
            assert open_home(slack, user).status == 200
        running.settle()
    with freeze_time(OPENING + timedelta(minutes=1)):
        assert "1 round(s) opened" in open_round(running.crossfeed, OPENING + timedelta(minutes=1))
        running.settle()
        refreshed = {user: published(running.fake, user, count=2)[-1] for user in ("S1", "M1")}
        assert published(running.fake, "S2", count=0) == [], "no Home to refresh"
        assert open_home(slack, "S2").status == 200
        running.settle()
        [first] = published(running.fake, "S2")

    for view in (*refreshed.values(), first):
        assert "alignment pulse is waiting for you" in shown(view)
        assert HomeIds.ANSWER_PULSE in dict(actions(view))


def test_a_write_made_after_the_ack_refreshes_home(running, slack):
    """The first admin's time zone is adopted after `/alignment setup` is answered: their Home follows."""
    assert slack.command("/alignment", "setup", user="U1").status == 200
    running.settle()

    [view] = published(running.fake, "U1")
    assert "a Crossfeed admin" in shown(view)
    with running.crossfeed.sessions() as session:
        assert team_store.workspace_config(session=session, team_id=TEAM).timezone == "America/New_York"


def test_closing_an_ask_by_the_clock_refreshes_the_askers_home(running):
    """A write made outside any request (after it, or by the clock) refreshes Home too."""
    from bot.messaging import close_due_asks
    from storage.models import MessagingAsk

    setup_teams(running.crossfeed)
    roi = ask(running.crossfeed, "M1", "Q4 ROI talk track", datetime.now(UTC) - timedelta(days=3))
    assert "Q4 ROI talk track" in shown(published(running.fake, "M1")[0]), "asking refreshed it"
    with running.crossfeed.transaction() as session:  # its time runs out
        session.get(MessagingAsk, roi.id).closes_at = datetime.now(UTC) - timedelta(minutes=1)

    with running.crossfeed.transaction() as session:
        assert close_due_asks(session=session, now=datetime.now(UTC)) == 1
    running.settle()

    assert "Q4 ROI talk track" not in shown(published(running.fake, "M1", count=2)[-1])


def test_answering_the_pulse_from_home_opens_the_form_and_home_then_shows_it_answered(running, slack):
    now = datetime.now(UTC)
    setup_teams(running.crossfeed)
    pulse_round(running.crossfeed, "2030-W01", now - timedelta(hours=1))
    open_home(slack, "U1")
    assert HomeIds.ANSWER_PULSE in dict(actions(published(running.fake, "U1")[0]))

    click_in_home(slack, HomeIds.ANSWER_PULSE, user="U1")
    [opened] = running.fake.wait_for("views.open")
    assert opened.view["callback_id"] == PulseIds.FORM

    option = {"value": "4", "text": {"type": "plain_text", "text": "4"}}
    values = {f"{PulseIds.QUESTION}{i}": {f"{PulseIds.QUESTION}{i}": {"type": "radio_buttons",
                                                                      "selected_option": option}}
              for i in range(len(DEFAULT_QUESTIONS))}
    assert slack.submit(opened.view, values, user="U1").body == ""

    refreshed = published(running.fake, "U1", count=2)[-1]
    assert HomeIds.ANSWER_PULSE not in dict(actions(refreshed))
    assert "2030-W01: answered" in shown(refreshed)


def test_answer_pulse_after_it_closed_explains_instead_of_opening_the_form(running, slack):
    setup_teams(running.crossfeed)

    click_in_home(slack, HomeIds.ANSWER_PULSE, user="U1")

    [opened] = running.fake.wait_for("views.open")
    assert opened.view["type"] == "modal" and "No pulse is open right now" in shown(opened.view)


def test_answering_an_ask_from_home_refreshes_it(running, slack):
    now = datetime.now(UTC)
    setup_teams(running.crossfeed)
    roi = ask(running.crossfeed, "M1", "Q4 ROI talk track", now - timedelta(hours=1))
    open_home(slack, "U1")
    value = dict(actions(published(running.fake, "U1")[0]))["messaging.react.mixed"]

    click_in_home(slack, "messaging.react.mixed", value, user="U1", block_id=f"{HomeIds.ASK}.{roi.id}")
    [modal] = running.fake.wait_for("views.open")
    option = {"value": "mixed", "text": {"type": "plain_text", "text": "Mixed"}}
    reply = slack.submit(modal.view, {
        Ids.REACTION: {Ids.REACTION: {"type": "radio_buttons", "selected_option": option}},
        Ids.USED_IN: {Ids.USED_IN: {"type": "checkboxes", "selected_options": [
            {"value": "call", "text": {"type": "plain_text", "text": "Call"}}]}},
    }, user="U1")

    assert reply.body == ""
    refreshed = published(running.fake, "U1", count=2)[-1]
    text = shown(refreshed)
    assert "messaging.react.mixed" not in text, "answered: no longer waiting"
    assert "Q4 ROI talk track*: Mixed" in text


def test_a_failed_publish_is_logged_and_the_action_still_succeeds(running, slack, caplog):
    setup_teams(running.crossfeed)
    running.fake.script.fail("views.publish", error="internal_error")

    with caplog.at_level(logging.WARNING, logger="bot.outbox"):
        reply = slack.command("/leadfeedback", "ACME-4411 4 great-fit", user="U1")
        running.fake.wait_for("views.publish")
        running.settle()

    assert reply.status == 200 and "Rated" in reply.body
    assert [r.message for r in caplog.records] == ["could not refresh the Home tab of U1 in T1: internal_error"]
    assert not running.fake.calls_to("response_url") and not running.fake.calls_to("chat.postMessage")

    # The next action refreshes it again.
    slack.command("/leadfeedback", "ACME-4412 5", user="U1")
    assert "ACME-4412" in shown(published(running.fake, "U1", count=2)[-1])


def test_a_marketer_sees_this_weeks_campaigns_with_enough_ratings(crossfeed):
    setup_teams(crossfeed)
    for n, (campaign, score) in enumerate([("Q4 webinar", 2), ("q4 webinar", 3), ("Q4 Webinar", 1),
                                           ("ABM tier 1", 5), ("ABM tier 1", 4), ("ABM tier 1", 4),
                                           ("Spring promo", 5)]):
        rate(crossfeed, "U1", "", NOW - timedelta(hours=1), lead=f"C-{n}", rating=score, campaign=campaign)

    marketing = shown(view_of(crossfeed, "M1"))
    campaigns = marketing[marketing.index("By campaign"):]

    assert campaigns.index("ABM tier 1: 4.3 (3)") < campaigns.index("Q4 Webinar: 2.0 (3)")
    assert "Spring promo" not in campaigns, "one rating is too few to judge a campaign"
    assert "By campaign" not in shown(view_of(crossfeed, "U1")), "reps don't get the marketing section"
