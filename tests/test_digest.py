"""The weekly digest: hand-checked numbers, week boundaries, thresholds, escaping, exactly-once posting."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time
from sqlalchemy import select, update

from bot.blocks.digest import digest_message
from bot.container import Crossfeed
from bot.digest import build_weekly_digest, last_complete_week, week_of
from bot.digest_posting import post_due_digests
from bot.leads import parse_quick_rating, rate_lead
from bot.pulse import PulseButtonValue, open_due_round, record_pulse_click
from bot.results.actions import ActionPrompt
from storage import teams as team_store
from storage.models import DigestPost

NY = ZoneInfo("America/New_York")
# Monday 23 November 2026, 09:00 in New York (EST): the digest of 2026-W47 (16–22 November) is due.
DUE = datetime(2026, 11, 23, 9, 0, tzinfo=NY)
W47_WEDNESDAY = datetime(2026, 11, 18, 12, 0, tzinfo=NY)
W46_WEDNESDAY = datetime(2026, 11, 11, 12, 0, tzinfo=NY)
DIGEST = "C_LEADERS"


def setup_workspace(crossfeed, *, sales=("U1", "U2", "U3", "U4"), marketing=("M1", "M2", "M3"), channels=(DIGEST,)):
    # Set up weeks before the digests the tests post: no digest is posted for a week before the workspace began.
    with freeze_time(DUE - timedelta(weeks=8)), crossfeed.transaction() as session:
        config = team_store.workspace_config(session=session, team_id="T1")
        config.timezone = "America/New_York"
        config.digest_channels = list(channels)
        team_store.put_members(session=session, team_id="T1", user_ids=list(sales), side="sales", origin="explicit")
        team_store.put_members(session=session, team_id="T1", user_ids=list(marketing), side="marketing",
                               origin="explicit")


def rate(crossfeed, user, text, at):
    with crossfeed.transaction() as session:
        rate_lead(session=session, team_id="T1", user_id=user, rating=parse_quick_rating(text), now=at)


def post_due(runtime, now):
    """The digest job, as the clock runs it."""
    return post_due_digests(sessions=runtime.sessions, client_for=runtime.client_for, settings=runtime.settings,
                            now=now)


def seed_leads(crossfeed):
    for user, text in [
        ("U1", "A-1 2 no-budget source:webinar"), ("U1", "A-2 1 no-budget wrong-persona source:webinar"),
        ("U2", "A-3 2 not-icp source:webinar"), ("U2", "A-4 5 great-fit source:paid-search"),
        ("U3", "A-5 4 source:paid-search"), ("U3", "A-6 4 source:paid-search"), ("U3", "A-7 3 source:email"),
    ]:
        rate(crossfeed, user, text, W47_WEDNESDAY)
    rate(crossfeed, "U1", "B-1 4", W46_WEDNESDAY)
    rate(crossfeed, "U1", "B-2 4", W46_WEDNESDAY)


def digest_of(crossfeed, week=None, **kwargs):
    week = week or last_complete_week(DUE, NY)
    with crossfeed.transaction() as session:
        return build_weekly_digest(session=session, team_id="T1", week=week, **kwargs)


def points(digest) -> tuple[str, ...]:
    """The talking points as people read them."""
    return tuple(point.text for point in digest.talking_points)


def test_lead_section_numbers_are_right(crossfeed, fake_slack):
    setup_workspace(crossfeed)
    seed_leads(crossfeed)

    digest = digest_of(crossfeed)
    leads = digest.leads

    assert digest.week.label == "2026-W47"
    assert (leads.ratings, leads.raters, leads.sales_team) == (7, 3, 4)
    assert leads.average == 3.0 and leads.average_change == -1.0  # 21/7, against 4.0 the week before
    assert round(leads.good_share, 3) == round(3 / 7, 3) and round(leads.bad_share, 3) == round(3 / 7, 3)
    assert [(s.label, s.ratings, s.average) for s in leads.ranked_sources] == [
        ("Paid search", 3, 4.33), ("Webinar", 3, 1.67)]
    assert (leads.other_sources.ratings, leads.other_sources.average) == (1, 3.0)
    assert [(r.label, r.count, r.change) for r in leads.bad_reasons] == [
        ("No budget", 2, 2), ("Not our ICP", 1, 1), ("Wrong persona / no authority", 1, 1)]
    assert digest.index == 50 and digest.index_change == -25  # (3−1)/4 against (4−1)/4
    assert points(digest) == (
        "Lead quality fell 1.0 points to 3.0/5.",
        "Webinar leads averaged 1.7/5 over 3 ratings; top reason for its bad leads: No budget.",
    )
    assert digest.trend_weeks == ("2026-W46", "2026-W47"), "the trend starts at the first week with data"
    assert digest.trend_leads == (4.0, 3.0) and digest.trend_index == (75, 50)


def test_week_boundaries_are_local_midnight():
    week = last_complete_week(DUE, NY)
    assert week.start == datetime(2026, 11, 16, tzinfo=NY) and week.end == datetime(2026, 11, 23, tzinfo=NY)
    # Sunday 23:59 in New York is Monday 04:59 UTC: still last week.
    assert week_of(datetime(2026, 11, 23, 4, 59, tzinfo=ZoneInfo("UTC")), NY).label == "2026-W47"
    assert week_of(datetime(2026, 11, 23, 5, 0, tzinfo=ZoneInfo("UTC")), NY).label == "2026-W48"


def test_the_week_containing_a_dst_change_is_169_hours_long():
    week = week_of(datetime(2026, 10, 28, 12, tzinfo=NY), NY)  # clocks went back on Sunday 1 November
    assert week.label == "2026-W44"
    assert week.end - week.start == timedelta(hours=169)
    assert week.end.astimezone(ZoneInfo("UTC")) == datetime(2026, 11, 2, 5, 0, tzinfo=ZoneInfo("UTC"))


def test_ratings_at_the_week_edges(crossfeed, fake_slack):
    setup_workspace(crossfeed)
    rate(crossfeed, "U1", "EDGE-1 2", datetime(2026, 11, 22, 23, 59, tzinfo=NY))
    rate(crossfeed, "U1", "EDGE-2 2", datetime(2026, 11, 23, 0, 0, tzinfo=NY))
    rate(crossfeed, "U1", "EDGE-3 2", datetime(2026, 11, 16, 0, 0, tzinfo=NY))

    assert digest_of(crossfeed).leads.ratings == 2


def test_pulse_section_respects_thresholds_and_shows_the_gap(crossfeed, fake_slack):
    setup_workspace(crossfeed)
    opening = datetime(2026, 11, 18, 10, 0, tzinfo=NY)
    with crossfeed.transaction() as session:
        round_id = open_due_round(session=session, team_id="T1", now=opening).round_id
        for user, scores in {"U1": (4, 4), "U2": (5, 3), "U3": (3, 3), "M1": (2, 2), "M2": (2, 4)}.items():
            for question, score in enumerate(scores):
                record_pulse_click(session=session, secret=b"test", team_id="T1", user_id=user,
                                   now=opening + timedelta(hours=1),
                                   value=PulseButtonValue(r=round_id, q=question, s=score))

    digest = digest_of(crossfeed)
    sales, marketing = digest.pulse.results.teams

    assert sales.shown and sales.scores[0][1] == 4.0 and sales.scores[1][1] == 3.33
    assert not marketing.shown and marketing.scores[0][1] is None  # 2 answers: below 3
    assert (sales.asked, sales.answered, marketing.asked, marketing.answered) == (4, 3, 3, 2)
    assert digest.pulse.results.gap is None
    text = json.dumps([b.to_dict() for b in digest_message(digest)[1]], ensure_ascii=False)
    assert "Not enough answers to show without identifying people" in text
    assert "2.0" not in text.split("Marketing")[1][:200], "marketing's average must not appear"


def test_an_empty_week_gets_a_helpful_digest(crossfeed, fake_slack):
    setup_workspace(crossfeed)

    digest = digest_of(crossfeed)
    text, blocks = digest_message(digest)

    assert digest.empty
    shown = json.dumps([b.to_dict() for b in blocks])
    assert "No feedback this week" in shown and "/leadfeedback" in shown and "0%" not in shown


def test_user_text_in_the_digest_is_escaped_and_blocks_are_valid(crossfeed, fake_slack):
    from slack_sdk.models.blocks import Block

    setup_workspace(crossfeed)
    with crossfeed.transaction() as session:
        from storage.queries import add_source

        add_source(session=session, team_id="T1", code="evil", label="<!channel> & <@U9>", created_by="U1")
    for n in range(3):
        rate(crossfeed, "U1", f"X-{n} 1 spam source:evil", W47_WEDNESDAY)

    text, blocks = digest_message(digest_of(crossfeed))
    dicts = [b.to_dict() for b in blocks]
    # A "Log action" button's value is data Slack never shows: it carries the label as typed, for the action's
    # modal to escape where it shows it.
    [value] = [b["accessory"].pop("value") for b in dicts if b.get("accessory", {}).get("action_id") == "action.new"]
    assert ActionPrompt.from_value(value).label.startswith("<!channel> & <@U9> leads averaged")
    shown = json.dumps(dicts)

    assert "<!channel>" not in shown and "<@U9>" not in shown
    assert "&lt;!channel&gt; &amp; &lt;@U9&gt;" in shown
    assert len(blocks) <= 50
    for block in blocks:
        Block.parse(block.to_dict()).to_dict()


def posted_digests(fake):
    return [c for c in fake.calls_to("chat.postMessage", succeeded=True) if c.params["channel"] == DIGEST]


def test_the_digest_posts_on_schedule_once_per_channel_with_its_chart(crossfeed, fake_slack):
    setup_workspace(crossfeed, channels=(DIGEST, "C_OTHER"))
    seed_leads(crossfeed)

    assert post_due(crossfeed, DUE - timedelta(minutes=1)) == []
    first = post_due(crossfeed, DUE)
    again = post_due(crossfeed, DUE + timedelta(minutes=30))

    assert [o.result for o in first] == ["posted", "posted"]
    assert [o.result for o in again] == ["already posted", "already posted"]
    [message] = posted_digests(fake_slack)
    assert "2026-W47" in message.params["text"]
    assert "Posted late" not in json.dumps(message.blocks)
    uploads = fake_slack.calls_to("files.completeUploadExternal")
    assert len(uploads) == 2 and fake_slack.calls_to("upload")[0].params["size"] > 1000
    with crossfeed.sessions() as session:
        assert {(p.channel_id, p.status) for p in session.scalars(select(DigestPost))} == {
            (DIGEST, "posted"), ("C_OTHER", "posted")}


def test_a_digest_missed_while_down_posts_once_late_and_says_so(crossfeed, fake_slack):
    setup_workspace(crossfeed)
    seed_leads(crossfeed)

    post_due(crossfeed, DUE + timedelta(hours=26))
    post_due(crossfeed, DUE + timedelta(hours=27))

    [message] = posted_digests(fake_slack)
    assert "Posted late" in json.dumps(message.blocks)


def test_two_clocks_racing_post_once(crossfeed, fake_slack, settings):
    setup_workspace(crossfeed)
    seed_leads(crossfeed)
    other = Crossfeed.start(settings)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda runtime: post_due(runtime, DUE), [crossfeed, other, crossfeed, other]))
    finally:
        other.close()

    assert len(posted_digests(fake_slack)) == 1


def test_a_crash_between_posting_and_recording_does_not_post_twice(crossfeed, fake_slack):
    setup_workspace(crossfeed)
    seed_leads(crossfeed)
    post_due(crossfeed, DUE)
    # As if the process died after Slack accepted the message but before the claim was marked posted.
    with crossfeed.transaction() as session:
        session.execute(update(DigestPost).values(status="claimed", slack_ts=None, posted_at=None))

    soon = post_due(crossfeed, DUE + timedelta(minutes=2))
    later = post_due(crossfeed, DUE + timedelta(minutes=15))

    assert [o.result for o in soon] == ["already posted"], "still within the claim's lease"
    assert [o.result for o in later] == ["reconciled"]
    assert len(posted_digests(fake_slack)) == 1
    with crossfeed.sessions() as session:
        assert session.scalar(select(DigestPost.status)) == "posted"


def test_a_crash_before_posting_posts_once_after_the_lease(crossfeed, fake_slack):
    setup_workspace(crossfeed)
    seed_leads(crossfeed)
    with crossfeed.transaction() as session:
        from storage.digest import claim_digest_post

        claim_digest_post(session=session, team_id="T1", posted_for="T1", channel_id=DIGEST, week="2026-W47", now=DUE,
                          late=False)

    assert [o.result for o in post_due(crossfeed, DUE + timedelta(minutes=15))] == ["posted"]
    assert len(posted_digests(fake_slack)) == 1


def test_if_the_chart_upload_fails_the_digest_still_posts(crossfeed, fake_slack):
    setup_workspace(crossfeed)
    seed_leads(crossfeed)
    fake_slack.script.fail("files.getUploadURLExternal", times=5, error="not_allowed")

    outcomes = post_due(crossfeed, DUE)

    assert [o.result for o in outcomes] == ["posted"]
    assert len(posted_digests(fake_slack)) == 1
    assert not fake_slack.calls_to("files.completeUploadExternal")


def test_a_failed_post_releases_the_claim_for_the_next_run(crossfeed, fake_slack):
    setup_workspace(crossfeed)
    seed_leads(crossfeed)
    fake_slack.script.fail("chat.postMessage", times=1, error="channel_not_found")

    assert post_due(crossfeed, DUE)[0].result == "failed: channel_not_found"
    assert post_due(crossfeed, DUE + timedelta(minutes=5))[0].result == "posted"


@pytest.mark.parametrize("words, expected", [("digest", "2026-W48 · Nov 23–29 (so far)"),
                                             ("digest last", "2026-W47 · Nov 16–22")])
def test_alignment_digest_previews_privately(running, slack, words, expected):
    setup_workspace(running.crossfeed)
    seed_leads(running.crossfeed)

    with freeze_time(DUE + timedelta(days=1)):
        reply = slack.command("/alignment", words, user="U7")

    assert reply.status == 200 and reply.json["response_type"] == "ephemeral"
    assert expected in reply.json["text"]
    assert not running.fake.calls_to("chat.postMessage")


def test_alignment_digest_post_is_for_admins_and_posts_once(running, slack):
    setup_workspace(running.crossfeed)
    seed_leads(running.crossfeed)
    slack.command("/alignment", "admin add <@UADMIN>", user="UADMIN")  # becomes the first admin

    refused = slack.command("/alignment", "digest post", user="U7")
    with freeze_time(DUE + timedelta(days=1)):
        posted = slack.command("/alignment", "digest post", user="UADMIN")
        running.settle()
        slack.command("/alignment", "digest post", user="UADMIN")
        running.settle()

    assert "Only Crossfeed admins" in refused.body
    assert "Posting the digest of 2026-W47" in posted.body
    assert len(posted_digests(running.fake)) == 1
    told = [c.params["text"] for c in running.fake.calls_to("response_url")]
    assert any("posted" in t for t in told) and any("already posted" in t for t in told)


def test_admins_choose_the_digest_channels(running, slack):
    reply = slack.command("/alignment", "digest channels <#C0LEAD|leadership> <#C0EXEC|exec>")

    assert "<#C0LEAD>, <#C0EXEC>" in reply.body
    with running.crossfeed.sessions() as session:
        assert team_store.workspace_config(session=session, team_id="T1").digest_channels == ["C0LEAD", "C0EXEC"]


def test_admins_set_when_the_digest_is_posted(running, slack):
    reply = slack.command("/alignment", "digest schedule friday 16:30")
    bad = slack.command("/alignment", "digest schedule soon")

    assert "every Fri at 16:30" in reply.body and "I couldn't read that" in bad.body
    with running.crossfeed.sessions() as session:
        config = team_store.workspace_config(session=session, team_id="T1")
        assert (config.digest_day, config.digest_time) == ("fri", "16:30")


def test_the_digest_joins_public_channels_and_still_posts_where_it_cannot_join(crossfeed, fake_slack):
    setup_workspace(crossfeed, channels=(DIGEST, "G_PRIVATE"))
    seed_leads(crossfeed)
    fake_slack.script.fail("conversations.join", error="method_not_supported_for_channel_type", after=1)

    outcomes = post_due(crossfeed, DUE)

    assert [c.params["channel"] for c in fake_slack.calls_to("conversations.join")] == [DIGEST, "G_PRIVATE"]
    assert [o.result for o in outcomes] == ["posted", "posted"], "an invited private channel needs no join"


def test_campaigns_with_three_or_more_ratings_are_ranked_however_reps_typed_them(crossfeed, fake_slack):
    from bot.leads import LeadRatingInput

    setup_workspace(crossfeed)
    for n, (campaign, score) in enumerate([("Q4 webinar", 2), ("q4 Webinar ", 1), ("Q4 WEBINAR", 3),
                                           ("ABM <tier1>", 5), ("ABM <tier1>", 4), ("abm <tier1>", 4),
                                           ("Spring promo", 5), ("Spring promo", 5)]):
        with crossfeed.transaction() as session:
            rate_lead(session=session, team_id="T1", user_id="U1", now=W47_WEDNESDAY,
                      rating=LeadRatingInput(lead=f"C-{n}", rating=score, campaign=campaign))

    leads = digest_of(crossfeed).leads

    assert [(c.label.casefold(), c.ratings, c.average) for c in leads.ranked_campaigns] == [
        ("abm <tier1>", 3, 4.33), ("q4 webinar", 3, 2.0)], "Spring promo has only 2 ratings"
    text = json.dumps([b.to_dict() for b in digest_message(digest_of(crossfeed))[1]])
    assert "*Campaigns, best first*" in text and "&lt;tier1&gt;" in text


# --- a digest leaders can trust -----------------------------------------------------------------

W45_WEDNESDAY = datetime(2026, 11, 4, 12, 0, tzinfo=NY)
W48_WEDNESDAY = datetime(2026, 11, 25, 12, 0, tzinfo=NY)


def shown_text(digest) -> str:
    return json.dumps([b.to_dict() for b in digest_message(digest)[1]], ensure_ascii=False)


def answer_pulse(crossfeed, opening, scores):
    """Open the round of `opening`'s week and answer it: user → (how aligned, second question)."""
    with crossfeed.transaction() as session:
        round_id = open_due_round(session=session, team_id="T1", now=opening).round_id
        for user, answers in scores.items():
            for question, score in enumerate(answers):
                record_pulse_click(session=session, secret=b"test", team_id="T1", user_id=user,
                                   now=opening + timedelta(hours=1),
                                   value=PulseButtonValue(r=round_id, q=question, s=score))


def test_a_sources_talking_point_names_that_sources_own_top_reason(crossfeed, fake_slack):
    setup_workspace(crossfeed)
    for n in range(3):
        rate(crossfeed, "U1", f"W-{n} 1 wrong-persona source:webinar", W47_WEDNESDAY)
    for n in range(4):  # the most given reason overall, but not webinar's
        rate(crossfeed, "U2", f"E-{n} 2 no-budget source:email", W47_WEDNESDAY)

    digest = digest_of(crossfeed)

    assert digest.leads.bad_reasons[0].label == "No budget"
    assert "Webinar leads averaged 1.0/5 over 3 ratings; top reason for its bad leads: " \
           "Wrong persona / no authority." in points(digest)


def test_talking_points_say_what_turned_around_and_carry_no_filler(crossfeed, fake_slack):
    setup_workspace(crossfeed)
    for n in range(3):
        rate(crossfeed, "U1", f"B-{n} 1 no-budget source:webinar", W46_WEDNESDAY)
        rate(crossfeed, "U1", f"A-{n} 4 source:webinar", W47_WEDNESDAY)

    assert points(digest_of(crossfeed)) == (
        "Lead quality rose 3.0 points to 4.0/5.",
        "Webinar leads turned around: 4.0/5 over 3 ratings, up from 1.0 last week.",
    )
    # A steady week says nothing rather than "1 of 4 sales reps rated leads" or the index's move again.
    rate(crossfeed, "U1", "C-1 4", W48_WEDNESDAY)
    assert points(digest_of(crossfeed, week_of(W48_WEDNESDAY, NY))) == ()


def test_the_perception_gap_narrowing_is_a_talking_point_and_said_in_the_teams_names(crossfeed, fake_slack):
    setup_workspace(crossfeed)
    with crossfeed.transaction() as session:
        config = team_store.workspace_config(session=session, team_id="T1")
        config.sales_name, config.marketing_name = "Field Sales", "Growth"
    answer_pulse(crossfeed, datetime(2026, 11, 11, 10, tzinfo=NY),
                 {"U1": (1, 3), "U2": (2, 3), "U3": (1, 3), "M1": (5, 3), "M2": (4, 3), "M3": (5, 3)})
    answer_pulse(crossfeed, datetime(2026, 11, 18, 10, tzinfo=NY),
                 {"U1": (3, 3), "U2": (3, 3), "U3": (4, 3), "M1": (5, 3), "M2": (4, 3), "M3": (4, 3)})

    digest = digest_of(crossfeed)

    assert "The perception gap narrowed to 1.0 points (from 3.3)." in points(digest)
    assert "Perception gap: Field Sales rate alignment 1.0 points lower than Growth." in shown_text(digest)


def test_the_index_change_compares_only_the_parts_both_weeks_have(crossfeed, fake_slack):
    setup_workspace(crossfeed)
    rate(crossfeed, "U1", "B-1 4", W46_WEDNESDAY)  # W46: leads only, 75
    rate(crossfeed, "U1", "A-1 3", W47_WEDNESDAY)  # W47: leads 50, and a pulse at 5/5: 100
    answer_pulse(crossfeed, datetime(2026, 11, 18, 10, tzinfo=NY),
                 {"U1": (5, 5), "U2": (5, 5), "U3": (5, 5), "M1": (5, 5), "M2": (5, 5), "M3": (5, 5)})

    digest = digest_of(crossfeed)

    assert digest.index == 75 and digest.index_parts == {"pulse": 100, "leads": 50}
    assert digest.index_change == -25 and digest.index_compared == ("leads",), "not 75 − 75 = no change"
    text = shown_text(digest)
    assert "*Alignment index: 75/100* ▼25 pts :red_circle: _worse_\\npulse 100 · leads 50" in text
    assert "Change over leads only" in text


def test_changes_are_marked_better_or_worse_and_a_zero_change_shows_none(crossfeed, fake_slack):
    setup_workspace(crossfeed)
    rate(crossfeed, "U1", "B-1 2 no-budget", W46_WEDNESDAY)
    rate(crossfeed, "U1", "B-2 2", W46_WEDNESDAY)
    for n, text in enumerate(["4", "2 no-budget", "2 no-budget", "4"]):
        rate(crossfeed, "U2", f"A-{n} {text}", W47_WEDNESDAY)

    text = shown_text(digest_of(crossfeed))

    assert "3.0/5 ▲1.0 :large_green_circle: _better_" in text, "a higher average is better"
    assert "No budget: 2 ▲1 :red_circle: _worse_" in text, "more bad-lead reasons is worse"
    assert ":small_red_triangle" not in text

    # W48: 41 ratings averaging 3.02 against 3.0: a change that rounds to 0.0 shows no arrow at all.
    for n in range(41):
        rate(crossfeed, "U3", f"C-{n} {4 if n == 0 else 3}", W48_WEDNESDAY)
    w48 = shown_text(digest_of(crossfeed, week_of(W48_WEDNESDAY, NY)))
    assert "*Average*\\n3.0/5\"" in w48 and "0.0" not in w48
    assert "*Alignment index: 50/100* · no change" in w48


def test_a_workspaces_first_week_has_no_arrows(crossfeed, fake_slack):
    setup_workspace(crossfeed)
    seed_leads(crossfeed)
    with crossfeed.transaction() as session:
        from storage.models import LeadRating

        session.execute(update(LeadRating).where(LeadRating.lead_ref.like("B-%")).values(
            rated_at=datetime(2026, 11, 16, 9, tzinfo=NY)))  # last week's two ratings move into this week

    digest = digest_of(crossfeed)
    text = shown_text(digest)

    assert digest.index_change is None and all(r.change is None for r in digest.leads.bad_reasons)
    assert "▲" not in text and "▼" not in text and "no change" not in text


def test_week_labels_show_their_dates():
    assert last_complete_week(DUE, NY).title == "2026-W47 · Nov 16–22"
    assert week_of(datetime(2026, 12, 2, tzinfo=NY), NY).title == "2026-W49 · Nov 30–Dec 6"
    assert week_of(datetime(2026, 12, 30, tzinfo=NY), NY).title == "2026-W53 · Dec 28–Jan 3"


def test_changes_compare_with_the_figures_as_posted_and_say_when_they_were_revised(crossfeed, fake_slack):
    from storage.models import DigestWeek

    setup_workspace(crossfeed, channels=(DIGEST, "C_OTHER"))
    seed_leads(crossfeed)  # W47: 7 ratings averaging 3.0
    post_due(crossfeed, DUE)  # leaders read 3.0
    for n in range(7):  # late ratings for W47, after its digest was posted
        rate(crossfeed, "U4", f"LATE-{n} 5", datetime(2026, 11, 22, 20, tzinfo=NY))
    rate(crossfeed, "U1", "N-1 4", W48_WEDNESDAY)
    post_due(crossfeed, DUE + timedelta(hours=2))

    digest = digest_of(crossfeed, week_of(W48_WEDNESDAY, NY))

    assert digest.leads.average_change == 1.0, "4.0 against 3.0 as posted, not against 4.0 recomputed"
    assert digest.revised == ("2026-W47 · Nov 16–22 changed after its digest was posted (leads rated 7 → 14, "
                              "average 3.0 → 4.0); this week's changes compare with the figures as posted.")
    assert "changed after its digest was posted" in shown_text(digest)
    with crossfeed.sessions() as session:
        [posted] = session.scalars(select(DigestWeek)).all()
    assert (posted.week, posted.figures["lead_ratings"], posted.figures["lead_average"]) == ("2026-W47", 7, 3.0)


def test_a_closed_ask_already_reported_is_not_raised_again(crossfeed, fake_slack):
    from bot.messaging import AnswerInput, AskInput, close_due_asks, create_ask, record_answer

    setup_workspace(crossfeed)
    opened = datetime(2026, 11, 19, 8, 0, tzinfo=NY)  # open four days: it closes Monday 08:00, before the digest
    with crossfeed.transaction() as session:
        sent = create_ask(session=session, team_id="T1", user_id="M1", recipients=[], submission_key="k1", now=opened,
                         ask=AskInput(name="ROI deck", channel_id="C_SALES", days=4))
        for user in ("U1", "U2", "U3"):
            record_answer(session=session, team_id="T1", user_id=user, ask_id=sent.ask.id,
                          now=opened + timedelta(hours=2), answer=AnswerInput(reaction="flat", used_in=["call"]))
    with crossfeed.transaction() as session:
        close_due_asks(session=session, now=DUE - timedelta(minutes=30))
    point = "“ROI deck” fell flat with 3 of 3 reps: worth a rewrite."

    post_due(crossfeed, DUE)
    w48 = week_of(W48_WEDNESDAY, NY)

    assert point in json.dumps(posted_digests(fake_slack)[0].blocks, ensure_ascii=False)
    assert [a.name for a in digest_of(crossfeed, w48).messaging.asks] == ["ROI deck"], "it closed in W48"
    assert point not in points(digest_of(crossfeed, w48))


def test_the_chart_plots_the_index_and_leaves_weeks_without_data_as_gaps(crossfeed, fake_slack, monkeypatch):
    import math

    from matplotlib.axes import Axes

    from bot.chart import trend_chart

    setup_workspace(crossfeed)
    rate(crossfeed, "U1", "OLD-1 2", W45_WEDNESDAY)
    seed_leads(crossfeed)
    with crossfeed.transaction() as session:  # W46 emptied: a week without data between two with data
        from sqlalchemy import delete

        from storage.models import LeadRating

        session.execute(delete(LeadRating).where(LeadRating.lead_ref.like("B-%")))
    drawn = {}
    original = Axes.plot

    def recording_plot(self, x, y, *args, **kwargs):
        drawn[kwargs["label"]] = list(y)
        return original(self, x, y, *args, **kwargs)

    monkeypatch.setattr(Axes, "plot", recording_plot)

    digest = digest_of(crossfeed)
    png = trend_chart(digest)

    assert digest.trend_weeks == ("2026-W45", "2026-W46", "2026-W47"), "starts at the first week with data"
    assert png.startswith(b"\x89PNG")
    lead = drawn["Lead quality: average rating (1–5)"]
    index = drawn["Alignment index (0–100, right axis)"]
    assert lead[0] == 2.0 and math.isnan(lead[1]) and lead[2] == 3.0, "the empty week breaks the line"
    assert index[0] == 25 and math.isnan(index[1]) and index[2] == 50
