"""Where people see the loop close: the digest's "You said, we did", Log action buttons, and each role's Home."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from freezegun import freeze_time
from sqlalchemy import select

from bot.blocks.ids import ActionIds
from bot.loop import answer_due_by
from bot.results.actions import ActionPrompt
from storage import teams as team_store
from storage.models import Action, FeedbackReply, FieldIntel, LeadRating
from tests.clock_kit import TurnedClock
from tests.helpers import TEAM
from tests.test_digest import DUE, posted_digests, rate, seed_leads, setup_workspace
from tests.test_home import actions, open_home, published, setup_teams, shown
from tests.test_home import rate as rate_now

NY = ZoneInfo("America/New_York")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in November 2026, New York time (2026-W47 is Monday 16 to Sunday 22)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=NY)


def add(crossfeed, *rows) -> list:
    with crossfeed.transaction() as session:
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


NO_PROMPT = ActionPrompt()


def action(title, owner, due_on, *, status="open", created_at, closed_at=None, prompt=NO_PROMPT, outcome=None,
           key=None) -> Action:
    return Action(team_id=TEAM, title=title, owner_user_id=owner, due_on=due_on, status=status,
                  prompt_kind=prompt.kind, prompt_ref=prompt.ref, prompt_label=prompt.label, outcome=outcome,
                  created_by="M1", created_at=created_at, closed_at=closed_at, submission_key=key or f"V-{title}")


def reply(kind, subject_id, given_at, replied_at, *, status="on_it", by="M1", note=None, link=None) -> FeedbackReply:
    return FeedbackReply(team_id=TEAM, subject_kind=kind, subject_id=subject_id, status=status, note=note, link=link,
                         replied_by=by, subject_at=given_at, first_replied_at=replied_at, replied_at=replied_at)


def intel(user, topic, given_at, *, key) -> FieldIntel:
    return FieldIntel(team_id=TEAM, user_id=user, kind="competitor", topic=topic, topic_key=topic.lower(),
                      text=f"Prospect compared us with {topic}", created_at=given_at, submission_key=key)


def flag(crossfeed, user, lead, given_at, source="paid-search") -> int:
    """A bad rating, posted to the lead feed: a lead flag marketing can answer."""
    rate(crossfeed, user, f"{lead} 2 no-budget source:{source}", given_at)
    with crossfeed.transaction() as session:
        return session.scalar(select(LeadRating.id).where(LeadRating.lead_ref == lead))


def text_of(blocks: list[dict]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


# --- two working days -------------------------------------------------------------------------


def test_two_working_days_skip_the_weekend_in_the_workspaces_zone():
    assert answer_due_by(at(12, 10), NY) == at(16, 10), "Thursday → Monday"
    assert answer_due_by(at(13, 15), NY) == at(17, 15), "Friday → Tuesday"
    assert answer_due_by(at(14, 11), NY) == at(18, 0), "Saturday counts from Monday 00:00 → Wednesday 00:00"
    assert answer_due_by(at(16, 9), NY) == at(18, 9), "Monday → Wednesday"
    # Friday 30 October 2026 in New York, across the end of daylight saving time: still 15:00 local on Tuesday.
    assert answer_due_by(datetime(2026, 10, 30, 15, tzinfo=NY), NY) == datetime(2026, 11, 3, 15, tzinfo=NY)


# --- the digest, posted by the clock ----------------------------------------------------------


def seed_the_loop(crossfeed) -> None:
    """A week of feedback, replies and actions around 2026-W47, figures worked out by hand in the test."""
    seed_leads(crossfeed)  # W47: webinar leads average 1.7/5 over 3 ratings (before the lead feed was set up)
    with crossfeed.transaction() as session:
        team_store.workspace_config(session=session, team_id=TEAM).lead_feed_channel = "C_FEED"
    # Lead flags and intel; each counts in the week its two working days (Mon–Fri, New York) run out.
    thursday_before = flag(crossfeed, "U1", "F-1", at(12, 10))      # due Mon 16 10:00; answered Fri 13: in time
    friday = flag(crossfeed, "U2", "F-2", at(13, 15))               # due Tue 17 15:00; answered Mon 16: in time
    friday_late = flag(crossfeed, "U3", "F-3", at(13, 16))          # due Tue 17 16:00; answered Wed 18: late
    monday = flag(crossfeed, "U1", "F-4", at(16, 9))                # due Wed 18 09:00; answered 08:59: in time
    thursday = flag(crossfeed, "U2", "F-5", at(19, 14), source="email")  # due Mon 23 14:00: next week's
    friday_next = flag(crossfeed, "U3", "F-6", at(20, 11), source="referral")  # due Tue 24: next week's
    week_before = flag(crossfeed, "U4", "F-7", at(10, 9))           # due Thu 12: last week's
    rate(crossfeed, "U4", "G-1 4 great-fit", at(17, 9))             # a good rating is no flag
    saturday_intel, wednesday_intel = add(
        crossfeed,
        intel("U1", "LedgerLoop", at(14, 11), key="I1"),            # due Wed 18 00:00; answered Tue 17: in time
        intel("U2", "Acme", at(18, 12), key="I2"),                  # due Fri 20 12:00; never answered
    )
    add(crossfeed,
        reply("rating", thursday_before, at(12, 10), at(13, 9)),
        reply("rating", friday, at(13, 15), at(16, 9)),
        reply("rating", friday_late, at(13, 16), at(18, 10)),
        reply("rating", monday, at(16, 9), at(18, 8, 59), status="fixed"),
        reply("rating", thursday, at(19, 14), at(19, 15)),
        reply("rating", friday_next, at(20, 11), at(20, 12)),
        reply("rating", week_before, at(10, 9), at(10, 10)),
        reply("intel", saturday_intel, at(14, 11), at(17, 17)))
    add(crossfeed,
        action("Exclude students from the webinar list", "M1", date(2026, 11, 20), status="done",
               created_at=at(16, 10), closed_at=at(19, 12), outcome="Students are filtered out <@U9>",
               prompt=ActionPrompt(kind="source", ref="Webinar", label="Webinar leads averaged 1.7/5 over 3 ratings")),
        action("Refresh the battlecard", "M2", date(2026, 11, 13), status="done", created_at=at(9, 10),
               closed_at=at(13, 12), outcome="Done the week before"),
        action("Rewrite the pricing one-pager", "M2", date(2026, 11, 20), created_at=at(16, 11)),
        action("Call the events agency", "M3", date(2026, 11, 23), created_at=at(17, 11)),
        action("Drop the trade show", "M3", date(2026, 11, 10), status="dropped", created_at=at(2, 11),
               closed_at=at(11, 9)))


def test_the_clock_posts_you_said_we_did_with_hand_checked_figures(crossfeed, fake_slack, settings):
    setup_workspace(crossfeed)
    seed_the_loop(crossfeed)
    assert crossfeed.wait_idle(30)

    with freeze_time(DUE - timedelta(minutes=2)) as frozen:
        clock = TurnedClock(settings)
        try:
            frozen.tick(timedelta(minutes=3))
            clock.turn()  # the digest job's minute: last week's digest is due
        finally:
            clock.stop()

    [message] = posted_digests(fake_slack)
    text = text_of(message.blocks)
    assert "You said, we did" in text
    done = text.split("*Done this week*")[1].split('"')[0]
    assert "Exclude students from the webinar list* · <@M1>" in done
    assert "_Prompted by:_ Webinar leads averaged 1.7/5 over 3 ratings" in done
    assert "_Outcome:_ Students are filtered out &lt;@U9&gt;" in done, "an outcome is user text: escaped"
    assert "Refresh the battlecard" not in text, "done the week before"
    overdue = text.split("*Open past their due date*")[1].split('"')[0]
    assert "Rewrite the pricing one-pager* · <@M2> · due Nov 20" in overdue
    assert "Call the events agency" not in text, "due on the Monday the digest is posted: not late yet"
    assert "Drop the trade show" not in text
    # Counted: F-1, F-2, F-3, F-4 and both intel items (due in W47); in time: F-1, F-2, F-4 and LedgerLoop.
    assert "4 of 6 lead flags and intel items got a reply within 2 working days" in text


def test_talking_points_carry_log_action_buttons_naming_what_they_are_about(crossfeed, fake_slack, settings):
    setup_workspace(crossfeed)
    seed_leads(crossfeed)

    with freeze_time(DUE - timedelta(minutes=2)) as frozen:
        clock = TurnedClock(settings)
        try:
            frozen.tick(timedelta(minutes=3))
            clock.turn()
        finally:
            clock.stop()

    [message] = posted_digests(fake_slack)
    points = {block["text"]["text"]: ActionPrompt.from_value(block["accessory"]["value"])
              for block in message.blocks
              if block.get("accessory", {}).get("action_id") == ActionIds.NEW}
    webinar = "Webinar leads averaged 1.7/5 over 3 ratings; top reason for its bad leads: No budget."
    assert points == {
        "• Lead quality fell 1.0 points to 3.0/5.": ActionPrompt(
            kind="talking_point", label="Lead quality fell 1.0 points to 3.0/5."),
        f"• {webinar}": ActionPrompt(kind="source", ref="webinar", label=webinar,
                                     title="Better leads from Webinar"),
    }
    assert "You said, we did" not in text_of(message.blocks), "nothing done, late or answered: no section"


def test_the_section_stays_inside_the_block_and_text_limits_with_many_actions(crossfeed, fake_slack):
    from bot.blocks.digest import digest_message
    from tests.test_digest import digest_of

    setup_workspace(crossfeed)
    seed_leads(crossfeed)
    long = "x" * 150
    add(crossfeed, *(action(f"{long[:140]} {n}", "M1", date(2026, 11, 17), status="done", created_at=at(16, 9),
                            closed_at=at(18, 9), outcome="y" * 2000, key=f"D{n}",
                            prompt=ActionPrompt(kind="none", label="z" * 200)) for n in range(12)),
        *(action(f"Late {n}", "M2", date(2026, 11, 17), created_at=at(16, 9), key=f"L{n}") for n in range(12)))

    text, blocks = digest_message(digest_of(crossfeed))

    shown = [block.to_dict() for block in blocks]  # slack-sdk's validators: 3000 characters a section
    assert len(shown) <= 50
    assert "…and 7 more" in text_of(shown) and text_of(shown).count("…and 7 more") == 2


# --- /pulse results ---------------------------------------------------------------------------


def test_pulse_results_carry_one_log_action_for_the_round(running):
    from tests.helpers import make_teams, open_round
    from tests.test_pulse_flow import OPENING, answer_as

    make_teams(running.crossfeed, sales=["S1", "S2", "S3"], marketing=["M1", "M2", "M3"])
    open_round(running.crossfeed)
    answer_as(running, ["S1", "S2", "S3", "M1", "M2", "M3"],
              {"S1": [4, 4], "S2": [4, 4], "S3": [4, 4], "M1": [2, 3], "M2": [3, 3], "M3": [1, 3]})

    with freeze_time(OPENING + timedelta(days=4)):
        blocks = running.slack.command("/pulse", "results").json["blocks"]

    [value] = [e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"]
               if e["action_id"] == ActionIds.NEW]
    prompt = ActionPrompt.from_value(value)
    assert prompt.kind == "pulse" and prompt.ref.endswith(tuple("0123456789"))
    assert prompt.label == f"Pulse {prompt.ref}: Marketing rate alignment 2.0 points lower than Sales."


# --- Home -------------------------------------------------------------------------------------


def today_ny() -> date:
    return datetime.now(UTC).astimezone(NY).date()


def test_a_rep_sees_what_their_feedback_led_to(running, slack):
    now = datetime.now(UTC)  # the app reads the real clock on its own threads
    crossfeed = running.crossfeed
    setup_teams(crossfeed)
    flagged = rate_now(crossfeed, "U1", "ACME-4411 2 no-budget", now - timedelta(days=2)).id
    others = rate_now(crossfeed, "U2", "OTHER-1 1 spam", now - timedelta(days=2)).id
    [ledger] = add(crossfeed, intel("U1", "LedgerLoop", now - timedelta(days=1), key="I1"))
    add(crossfeed,
        reply("rating", flagged, now - timedelta(days=2), now - timedelta(hours=5), note="Fixing the form <@U2> & co",
              link="https://acme.example/changes?id=1&v=2"),
        reply("intel", ledger, now - timedelta(days=1), now - timedelta(hours=4), status="fixed", by="M2"),
        reply("rating", others, now - timedelta(days=2), now - timedelta(hours=3), note="Not U1's"),
        action("Exclude students from the webinar list", "M1", today_ny() + timedelta(days=3),
               created_at=now - timedelta(hours=2), prompt=ActionPrompt(kind="rating", ref=str(flagged))),
        action("Dropped idea", "M1", today_ny(), status="dropped", created_at=now - timedelta(hours=2),
               closed_at=now - timedelta(hours=1), prompt=ActionPrompt(kind="rating", ref=str(flagged))),
        action("For U2's lead", "M1", today_ny(), created_at=now - timedelta(hours=2),
               prompt=ActionPrompt(kind="rating", ref=str(others))))
    running.settle()
    running.fake.reset()

    open_home(slack, "U1")
    open_home(slack, "U3")
    text, nothing = shown(published(running.fake, "U1")[0]), shown(published(running.fake, "U3")[0])

    led_to = text.split("What your feedback led to")[1]
    assert ":hourglass_flowing_sand: <@M1> · *On it* on your lead flag *ACME-4411*" in led_to
    assert "Fixing the form &lt;@U2&gt; &amp; co" in led_to, "a note is user text: escaped"
    assert "<https://acme.example/changes?id=1&amp;v=2|Link to the change>" in led_to
    assert "<@M2> · *Fixed* on your field intel *LedgerLoop*" in led_to
    assert "Action *Exclude students from the webinar list* · <@M1> · due" in led_to
    assert "Not U1's" not in text and "For U2's lead" not in text and "Dropped idea" not in text
    # The newest first: the action (2 hours ago), then the intel's reply, then the rating's.
    assert led_to.index("Exclude students") < led_to.index("*Fixed*") < led_to.index("*On it*")
    assert "When marketing replies to a lead you flagged" in nothing


def test_a_marketer_sees_the_open_actions_they_own_with_done_and_drop(running, slack):
    now = datetime.now(UTC)
    crossfeed = running.crossfeed
    setup_teams(crossfeed)
    late, soon = add(
        crossfeed,
        action("Rewrite the pricing one-pager", "M1", today_ny() - timedelta(days=1),
               created_at=now - timedelta(days=9),
               prompt=ActionPrompt(kind="ask", ref="3", label="“Pricing” fell flat with 3 of 4 reps")),
        action("Call the events agency", "M1", today_ny() + timedelta(days=3), created_at=now - timedelta(days=1)),
        action("Already done", "M1", today_ny(), status="done", created_at=now - timedelta(days=2),
               closed_at=now - timedelta(hours=1)),
        action("Someone else's", "M2", today_ny(), created_at=now - timedelta(days=2)))[:2]
    running.settle()
    running.fake.reset()

    open_home(slack, "M1")
    open_home(slack, "M3")
    [view], [empty] = published(running.fake, "M1"), published(running.fake, "M3")

    text = shown(view)
    mine = text.split("Your open actions")[1]
    assert mine.index("Rewrite the pricing one-pager") < mine.index("Call the events agency"), "soonest due first"
    assert ":warning: *overdue*" in mine.split("Call the events agency")[0]
    assert ":warning:" not in mine.split("Call the events agency")[1].split("For marketing")[0]
    assert "_Because of:_ “Pricing” fell flat with 3 of 4 reps" in mine
    assert "Already done" not in text and "Someone else's" not in text
    buttons = actions(view)
    assert (ActionIds.DONE, str(late)) in buttons and (ActionIds.DROP, str(late)) in buttons
    assert (ActionIds.DONE, str(soon)) in buttons and (ActionIds.DROP, str(soon)) in buttons
    assert "None open." in shown(empty)
    assert "What your feedback led to" not in text, "a marketer gives no lead ratings"


def test_a_leader_sees_this_weeks_actions(running, slack):
    now = datetime.now(UTC)
    crossfeed = running.crossfeed
    setup_teams(crossfeed, leaders=("L1",))
    local = now.astimezone(NY)
    monday = datetime.combine(local.date() - timedelta(days=local.weekday()), datetime.min.time(), tzinfo=NY)
    this_week = monday + (now - monday) / 2
    add(crossfeed,
        action("Exclude students from the webinar list", "M1", today_ny() + timedelta(days=5), status="done",
               created_at=this_week, closed_at=this_week + (now - this_week) / 2, outcome="Filtered out"),
        action("Call the events agency", "M3", today_ny() + timedelta(days=5), created_at=this_week),
        action("Rewrite the pricing one-pager", "M2", today_ny() - timedelta(days=2),
               created_at=monday - timedelta(days=10)))
    for n in range(3):  # last week's digest: webinar leads averaged 1/5, a talking point
        rate_now(crossfeed, "U1", f"W-{n} 1 no-budget source:webinar", monday - timedelta(days=3))
    running.settle()
    running.fake.reset()

    open_home(slack, "L1")
    [view] = published(running.fake, "L1")
    text = shown(view)

    assert "so far): 2 logged · 1 done · 1 overdue" in text
    assert "Exclude students from the webinar list* · <@M1>: Filtered out" in text
    assert "Rewrite the pricing one-pager* · <@M2> · due" in text
    logged_from = [ActionPrompt.from_value(value) for action_id, value in actions(view) if action_id == ActionIds.NEW]
    assert [(p.kind, p.ref) for p in logged_from] == [("source", "webinar")], "last week's talking point"


def test_what_came_of_a_reps_feedback_costs_one_statement_and_only_when_there_is_some(crossfeed):
    from bench.ack_latency import StatementCounter
    from tests.test_home import summary_of

    now = datetime.now(UTC)
    setup_teams(crossfeed)
    flagged = rate_now(crossfeed, "U1", "ACME-4411 2 no-budget", now - timedelta(days=2)).id
    assert crossfeed.wait_idle(30)
    counter = StatementCounter(crossfeed.engine)

    def statements_for_home() -> int:
        counter.take()
        summary_of(crossfeed, "U1", now)
        return len([sql for _, _, sql in counter.take() if not sql.startswith("BEGIN")])

    before = statements_for_home()  # nothing came of it yet: the statement that reads who they are says so
    add(crossfeed, reply("rating", flagged, now - timedelta(days=2), now - timedelta(hours=1)))
    after = statements_for_home()

    assert after == before + 1
    assert summary_of(crossfeed, "U1", now).heard_back.total == 1


def test_a_marketers_reply_reaches_the_reps_home_with_the_refresh_it_queues(start_app):
    from tests.helpers import make_teams
    from tests.test_replies import open_reply, rate_badly, send_reply

    app = start_app(lead_feed_channel="C_FEED")
    make_teams(app.crossfeed, sales=["UREP"], marketing=["UM1"])
    rate_badly(app)  # ACME-1, 2/5, posted to the lead feed

    send_reply(app, open_reply(app, "rating:1", "fixed", user="UM1"), user="UM1")

    [home] = [call.view for call in app.fake.calls_to("views.publish") if call.params["user_id"] == "UREP"]
    led_to = shown(home).split("What your feedback led to")[1]
    assert ":white_check_mark: <@UM1> · *Fixed* on your lead flag *ACME-1*" in led_to
    assert "Tightened the webinar form: &lt;!channel&gt;" in led_to
    assert "<https://acme.com/changes/42|Link to the change>" in led_to


def test_what_changed_after_asks_a_rep_answered_comes_in_the_same_statement(crossfeed):
    from bench.ack_latency import StatementCounter
    from storage.models import MessagingAnswer, MessagingAsk
    from tests.test_home import summary_of, view_of

    now = datetime.now(UTC)
    setup_teams(crossfeed)
    assert crossfeed.wait_idle(30)
    counter = StatementCounter(crossfeed.engine)

    def statements_for_home(user: str) -> int:
        counter.take()
        summary_of(crossfeed, user, now)
        return len([sql for _, _, sql in counter.take() if not sql.startswith("BEGIN")])

    before = statements_for_home("U1")

    def asked(name, *, answered_by, change=None) -> None:
        [ask_id] = add(crossfeed, MessagingAsk(
            team_id=TEAM, asker_user_id="M1", name=name, audience="channel", closes_at=now - timedelta(days=1),
            submission_key=f"V-{name}", change_note=change, change_link=change and "https://acme.com/v2",
            changed_at=change and now - timedelta(hours=1)))
        add(crossfeed, *(MessagingAnswer(team_id=TEAM, ask_id=ask_id, rep_user_id=user, reaction="mixed")
                         for user in answered_by))

    asked("Q4 ROI talk track", answered_by=("U1", "M2"), change="One page <!channel>, payback first")
    asked("Pricing deck", answered_by=("U1",))  # no change posted
    asked("Battlecard", answered_by=("U2",), change="New objection handling")  # not answered by U1
    after = statements_for_home("U1")

    assert after == before + 1, "what came of their feedback: one statement, read because there is some"
    led_to = summary_of(crossfeed, "U1", now).heard_back
    assert [(item.what, item.subject, item.by, item.note, item.link) for item in led_to.shown] == [
        ("change", "Q4 ROI talk track", "M1", "One page <!channel>, payback first", "https://acme.com/v2")]
    assert summary_of(crossfeed, "M2", now).heard_back is None, "a marketer's answer doesn't count, nor show"
    text = text_of(view_of(crossfeed, "U1", now)["blocks"])
    assert "<@M1> · *What we changed* after “Q4 ROI talk track”, which you answered" in text
    assert "One page &lt;!channel&gt;, payback first" in text
    assert "<https://acme.com/v2|Link to the new version>" in text
