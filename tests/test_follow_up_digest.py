"""The digest's "Follow-up": how fast the week's handed-off leads were accepted, checked by hand, posted by the clock;
and the qualified-lead definition the digest links to and the rating form shows."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from freezegun import freeze_time

from bot.blocks.digest import digest_message
from bot.blocks.ids import ActionIds, LeadIds
from bot.follow_up_stats import percentile
from bot.results.actions import ActionPrompt
from bot.results.follow_up_stats import working_duration
from storage import teams as team_store
from tests.clock_kit import TurnedClock
from tests.follow_up_kit import NY, hand_off
from tests.helpers import TEAM
from tests.test_digest import DUE, digest_of, posted_digests, rate, setup_workspace


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in November 2026, New York time (2026-W47 is Monday 16 to Sunday 22; the digest is due Monday 23
    at 09:00)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=NY)


def seed_handoffs(crossfeed) -> None:
    """The leads of 2026-W47 (working hours 09:00–17:00 Monday to Friday, SLA 60 working minutes), each with its
    working minutes to accept worked out by hand."""
    hand_off(crossfeed, "W-1", at(16, 10), source="webinar", accepted_at=at(16, 10, 30))  # 30: within
    hand_off(crossfeed, "W-2", at(17, 16, 30), source="webinar", accepted_at=at(18, 9, 44))  # 30 + 44 = 74: late
    hand_off(crossfeed, "W-3", at(18, 11), source="webinar", accepted_at=at(18, 13))  # 120: late
    hand_off(crossfeed, "W-4", at(19, 15), source="webinar")  # due Thu 16:00, still open: a breach
    hand_off(crossfeed, "P-1", at(16, 9), source="paid-search", accepted_at=at(16, 9, 10))  # 10: within
    hand_off(crossfeed, "P-2", at(17, 12), source="paid-search", accepted_at=at(17, 12, 20))  # 20: within
    hand_off(crossfeed, "P-3", at(20, 16, 30), source="paid-search")  # due Mon 23 09:30: not yet at 09:00
    hand_off(crossfeed, "E-1", at(18, 10), source="email", accepted_at=at(18, 10, 40))  # 40: within
    hand_off(crossfeed, "N-1", at(22, 23, 30), owner=None)  # Sunday night, unclaimed; due Mon 23 10:00
    # Outside the week: last Sunday 23:59 and the digest's own Monday 00:00.
    hand_off(crossfeed, "OLD-1", at(15, 23, 59), source="webinar", accepted_at=at(16, 15))
    hand_off(crossfeed, "NEW-1", at(23, 0), source="webinar")
    # Ratings that name handed-off leads: W-1 (twice, by two reps, with another spelling), E-1; and a lead never
    # handed off; and W-3 rated the week before it was handed off, which doesn't count.
    rate(crossfeed, "U1", "W-1 4", at(17, 9))
    rate(crossfeed, "U2", "w-1 3", at(17, 10))
    rate(crossfeed, "U3", "E-1 2 no-budget", at(19, 9))
    rate(crossfeed, "U4", "ZZZ-1 5", at(19, 9))
    rate(crossfeed, "U4", "W-3 3", at(10, 9))


def test_follow_up_figures_are_right(crossfeed, fake_slack):
    setup_workspace(crossfeed)
    seed_handoffs(crossfeed)

    follow_up = digest_of(crossfeed, now=DUE).follow_up

    assert follow_up.handed_off == 9  # W-1…4, P-1…3, E-1, N-1
    assert follow_up.accepted == 6 and follow_up.still_open == 3  # open: W-4, P-3, N-1
    # Decided: the 6 accepted and W-4 (open past due); P-3 and N-1 are not due yet. Within: W-1, P-1, P-2, E-1.
    assert (follow_up.within_sla, follow_up.decided) == (4, 7)
    # Accepted in 10, 20, 30, 40, 74, 120 minutes: the median is (30 + 40) / 2; the 90th percentile is the
    # ceil(0.9 × 6) = 6th value.
    assert (follow_up.median_minutes, follow_up.p90_minutes) == (35, 120)
    # Webinar: W-2 and W-3 late, W-4 open past due.
    assert [(b.label, b.leads, b.breaches) for b in follow_up.breaches] == [("Webinar", 4, 3)]
    assert follow_up.rated == 2  # W-1 (two ratings: one lead) and E-1; not ZZZ-1, nor W-3 (rated before)
    # Webinar waited 30, 74, 120 and W-4's 600 so far (Thu 15:00–17:00 and Friday's 8 hours): median
    # (74 + 120) / 2 = 97. Paid search (3 leads) waited 10, 20 and P-3's 30 (Friday 16:30–17:00): median 20.
    # Email has one lead: too few to judge.
    slowest = follow_up.slowest
    assert (slowest.label, slowest.leads, slowest.still_open, slowest.median_minutes) == ("Webinar", 4, 1, 97)


def test_the_clock_posts_the_follow_up_section_and_its_talking_point(crossfeed, fake_slack, settings):
    setup_workspace(crossfeed)
    seed_handoffs(crossfeed)
    assert crossfeed.wait_idle(30)

    with freeze_time(DUE - timedelta(minutes=2)) as frozen:
        clock = TurnedClock(settings)
        try:
            frozen.tick(timedelta(minutes=3))
            clock.turn()  # the digest job's minute: last week's digest is due
        finally:
            clock.stop()

    [message] = posted_digests(fake_slack)
    [section] = [block for block in message.blocks if "*Follow-up*" in block.get("text", {}).get("text", "")]
    assert [field["text"] for field in section["fields"]] == [
        "*Handed off*\n9",
        "*Accepted*\n6 · 3 still open",
        "*Accepted within SLA*\n57% (4 of 7)",
        "*Time to accept* (working hours)\nmedian 35 min · 90% within 2 h",
        "*Rated by a rep*\n2 of 9",
    ]
    text = json.dumps(message.blocks, ensure_ascii=False)
    assert "*SLA breaches by source* (accepted late, or still open past due)\\nWebinar: 3 of 4 leads" in text
    points = {block["text"]["text"]: ActionPrompt.from_value(block["accessory"]["value"])
              for block in message.blocks if block.get("accessory", {}).get("action_id") == ActionIds.NEW}
    slowest = ("Webinar leads wait longest for a rep: a median 1 h 37 min of working time to accept "
               "(4 leads, 1 still open).")
    assert points[f"• {slowest}"] == ActionPrompt(kind="source", ref="webinar", label=slowest,
                                                  title="Faster follow-up on Webinar leads")


def test_a_week_without_handed_off_leads_has_no_follow_up_section(crossfeed, fake_slack):
    setup_workspace(crossfeed)
    rate(crossfeed, "U1", "A-1 4 source:webinar", at(18, 10))
    hand_off(crossfeed, "NEW-1", at(23, 10), source="webinar")  # next week's

    digest = digest_of(crossfeed, now=DUE)
    _, blocks = digest_message(digest)

    assert digest.follow_up is None
    assert "Follow-up" not in json.dumps([block.to_dict() for block in blocks])


def test_a_week_with_only_handed_off_leads_is_not_an_empty_digest(crossfeed, fake_slack):
    setup_workspace(crossfeed)
    hand_off(crossfeed, "W-1", at(16, 10), source="webinar")

    text, blocks = digest_message(digest_of(crossfeed, now=DUE))

    assert "no feedback this week" not in text
    section = json.dumps([block.to_dict() for block in blocks])
    assert "*Accepted within SLA*\\n0% (0 of 1)" in section and "none accepted yet" in section


def test_the_source_that_waits_longest_needs_three_leads(crossfeed, fake_slack):
    setup_workspace(crossfeed)
    hand_off(crossfeed, "W-1", at(16, 10), source="webinar", accepted_at=at(16, 16))  # 360 minutes
    hand_off(crossfeed, "W-2", at(16, 10), source="webinar", accepted_at=at(16, 16))
    for n in range(3):
        hand_off(crossfeed, f"P-{n}", at(16, 10), source="paid-search", accepted_at=at(16, 10, 5))

    digest = digest_of(crossfeed, now=DUE)

    assert digest.follow_up.slowest.label == "Paid search"  # webinar waits longer, over 2 leads only
    assert [p.text for p in digest.talking_points] == [
        "Paid search leads wait longest for a rep: a median 5 min of working time to accept (3 leads)."]


def test_durations_and_percentiles_by_hand():
    assert [working_duration(m) for m in (0, 45, 60, 97, 120, 600.4)] == [
        "0 min", "45 min", "1 h", "1 h 37 min", "2 h", "10 h"]
    assert percentile([5], 0.9) == 5
    assert percentile(list(range(1, 11)), 0.9) == 9  # ceil(9.0) = 9th of 10
    assert percentile(list(range(1, 12)), 0.9) == 10  # ceil(9.9) = 10th of 11


# --- the qualified-lead definition ---------------------------------------------------------------------------------


DEFINITION = "Budget & a *named* buyer <!channel>\nwho asked for a demo"


def define(crossfeed, text: str | None) -> None:
    with crossfeed.transaction() as session:
        team_store.workspace_config(session=session, team_id=TEAM).qualified_lead_definition = text


def test_the_digest_links_the_definition_and_the_button_opens_it_for_whoever_clicks(running, slack):
    setup_workspace(running.crossfeed)
    rate(running.crossfeed, "U1", "A-1 4 source:webinar", at(18, 10))
    define(running.crossfeed, DEFINITION)

    _, blocks = digest_message(digest_of(running.crossfeed, now=DUE))
    shown = [block.to_dict() for block in blocks]
    lead_quality = next(n for n, block in enumerate(shown) if "*Lead quality*" in block.get("text", {}).get("text", ""))
    button = next(block for block in shown[lead_quality:] if block["type"] == "actions")["elements"][0]
    assert button["action_id"] == LeadIds.DEFINITION and button["text"]["text"] == "What counts as a qualified lead"
    assert shown.index(next(b for b in shown if b["type"] == "actions")) < next(
        n for n, block in enumerate(shown) if "Messaging" in block.get("text", {}).get("text", ""))

    reply = slack.click(LeadIds.DEFINITION, user="M2")
    assert reply.status == 200
    [call] = running.fake.wait_for("views.open")
    assert call.view["title"]["text"] == "Qualified lead"
    assert call.view["blocks"][0]["text"]["text"] == (
        "Budget &amp; a *named* buyer &lt;!channel&gt;\nwho asked for a demo")


def test_without_a_definition_the_digest_has_no_button_and_a_stale_one_says_so(running, slack):
    setup_workspace(running.crossfeed)
    rate(running.crossfeed, "U1", "A-1 4 source:webinar", at(18, 10))
    define(running.crossfeed, "   ")

    _, blocks = digest_message(digest_of(running.crossfeed, now=DUE))
    assert not [block for block in blocks if block.to_dict()["type"] == "actions"]

    slack.click(LeadIds.DEFINITION, user="U2")  # a button on an older digest, the definition removed since
    [call] = running.fake.wait_for("views.open")
    assert "No definition of a qualified lead is set" in call.view["blocks"][0]["text"]["text"]


def test_the_rating_form_shows_the_definition_when_set_and_nothing_when_unset(running, slack):
    slack.command("/leadfeedback", "")
    [call] = running.fake.wait_for("views.open")
    assert call.view["blocks"][0]["type"] == "input", "no definition: the form starts with the lead"
    running.fake.reset()

    define(running.crossfeed, DEFINITION + " " + "&" * 3000)  # 15,000 characters escaped
    slack.command("/leadfeedback", "")
    [call] = running.fake.wait_for("views.open")

    [context] = call.view["blocks"][0]["elements"]
    assert context["text"].startswith("*What we call a qualified lead:* Budget &amp; a *named* buyer &lt;!channel&gt;")
    assert len(context["text"]) <= 3000 and context["text"].endswith("&amp;…"), "cut between entities"


def test_a_long_definition_is_cut_to_fit_the_modal_never_inside_an_entity():
    from bot.blocks.digest import definition_modal

    [section] = definition_modal("<" * 2000).to_dict()["blocks"]  # validated: 3000 characters a section

    assert section["text"]["text"] == "&lt;" * 749 + "…"


# --- the export --------------------------------------------------------------------------------------------------


def test_leads_csv_has_the_handed_off_leads_with_their_follow_up(crossfeed, fake_slack):
    import csv
    import io

    from bot.export import export_csvs

    setup_workspace(crossfeed)
    seed_handoffs(crossfeed)
    hand_off(crossfeed, "=CMD-1", at(17, 10), company="+Acme", escalated_at=at(17, 11))

    with crossfeed.sessions() as session:
        files = export_csvs(session=session, team_id=TEAM, now=DUE, weeks=1)  # W47 and W48 so far

    rows = {row["crm_id"]: row for row in csv.DictReader(io.StringIO(files["leads.csv"]))}
    assert list(rows)[:2] == ["P-1", "W-1"], "oldest first"
    assert "OLD-1" not in rows and rows["NEW-1"]["week"] == "2026-W48"
    w2 = rows["W-2"]
    assert (w2["week"], w2["source"], w2["owner_user_id"], w2["status"], w2["sla_minutes"], w2["accept_minutes"],
            w2["within_sla"], w2["rated"]) == ("2026-W47", "Webinar", "U1", "accepted", "60", "74", "no", "no")
    assert (rows["W-1"]["within_sla"], rows["W-1"]["rated"]) == ("yes", "yes")
    assert rows["W-3"]["rated"] == "no", "rated only before the export's weeks"
    assert rows["W-4"]["within_sla"] == "no", "open past due"
    assert rows["P-3"]["within_sla"] == "" and rows["P-3"]["accepted_at"] == "", "open, not due yet"
    assert (rows["N-1"]["status"], rows["N-1"]["owner_user_id"]) == ("unassigned", "")
    formula = rows["'=CMD-1"]
    assert formula["company"] == "'+Acme" and formula["escalated_at"].startswith("2026-11-17T16:00"), \
        "typed text never becomes a formula; times in UTC"
