"""Lead quality over the last 4 and 12 weeks by source and campaign: hand-checked figures, reasons per source and
campaign, trends, `/leadfeedback stats` through signed requests, and the marketers' Home on a quiet Monday."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from bench.ack_latency import StatementCounter
from bot.digest import build_weekly_digest, last_complete_week
from bot.lead_stats import StatsRequest, lead_stats, parse_stats_request
from bot.results.lead_stats import QualityLine
from tests.helpers import TEAM, rating_count
from tests.test_home import open_home, published, rate, setup_teams, shown, view_of

NY = ZoneInfo("America/New_York")
# Monday 30 November 2026, 09:00 in New York: the ISO week 2026-W49 has just begun and has no ratings yet.
# The last 4 weeks are 2 to 30 November (09:00); the 4 weeks before them, 5 October to 2 November.
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=NY)


def day(month: int, date: int) -> datetime:
    return datetime(2026, month, date, 12, 0, tzinfo=NY)


# (rep, one-line rating, when). Worked out by hand below.
RATINGS = [
    # Webinar, last 4 weeks: 2, 1, 2, 4, 1 → 5 ratings, average 2.0, 1 good (20%), 4 bad (80%).
    # Reasons: no-budget 3, wrong-persona 2, great-fit 1, not-icp 1 (ties by label: Great fit before Not our ICP).
    ("U1", 'W-1 2 no-budget source:webinar campaign:"Q4 ROI webinar"', day(11, 4)),
    ("U2", 'W-2 1 no-budget wrong-persona source:webinar campaign:"q4 roi webinar "', day(11, 11)),
    ("U3", 'W-3 2 wrong-persona source:webinars campaign:"Q4 ROI Webinar"', day(11, 18)),
    ("U1", "W-4 4 great-fit source:webinar", day(11, 25)),
    ("U2", "W-5 1 no-budget not-icp source:webinar", day(11, 26)),
    # Paid search, last 4 weeks: 5, 4, 5 → average 4.67, all good; nothing the 4 weeks before: "new".
    ("U3", 'S-1 5 great-fit ready-to-buy source:ppc campaign:"ABM tier 1"', day(11, 5)),
    ("U1", 'S-2 4 great-fit source:paid-search campaign:"abm tier 1"', day(11, 12)),
    ("U2", "S-3 5 right-persona source:paid-search", day(11, 20)),
    # Two sources with too few ratings to rank: Email (3, 2) and no source (3).
    ("U4", "E-1 3 source:email", day(11, 10)),
    ("U4", "E-2 2 bad-timing source:email", day(11, 24)),
    ("U4", "N-1 3", day(11, 9)),
    # The 4 weeks before (5 Oct – 2 Nov): Webinar 4, 3, 4 → 3.67, so Webinar fell by 1.67.
    ("U1", "P-1 4 source:webinar", day(10, 14)),
    ("U2", "P-2 3 source:webinar", day(10, 21)),
    ("U3", "P-3 4 source:webinar", day(10, 28)),
    # Within 12 weeks only: a third ABM tier 1 rating (5, 4, 4 → 4.33 over 12 weeks).
    ("U4", 'A-0 4 source:paid-search campaign:"ABM tier 1"', day(9, 15)),
    # Older than 12 weeks and 12 weeks before: in no window of these tests but the 12 weeks before.
    ("U1", "X-1 1 source:webinar", day(7, 1)),
]


@pytest.fixture
def seeded(crossfeed):
    setup_teams(crossfeed)
    for user, text, at in RATINGS:
        rate(crossfeed, user, text, at)
    return crossfeed


def stats_of(crossfeed, request: StatsRequest | None = None):
    with crossfeed.transaction() as session:
        return lead_stats(session=session, team_id=TEAM, now=NOW, request=request or StatsRequest())


def figures(line: QualityLine) -> tuple:
    return (line.label, line.ratings, line.average, line.good, line.bad, line.previous_ratings, line.previous_average)


def reasons(line: QualityLine) -> list[tuple[str, int]]:
    return [(reason.label, reason.count) for reason in line.reasons]


# --- the figures --------------------------------------------------------------------------------


def test_the_last_4_weeks_by_source_with_their_own_reasons_and_trends(seeded):
    stats = stats_of(seeded)

    # 11 ratings summing to 32: 2.91; good: W-4, S-1, S-2, S-3; bad: W-1, W-2, W-3, W-5, E-2.
    assert figures(stats.total) == ("All sources", 11, 2.91, 4, 5, 3, 3.67)
    assert stats.total.change == -0.76
    assert [line.label for line in stats.sources] == ["Paid search", "Webinar"], "best average first"
    paid, webinar = stats.sources
    assert figures(paid) == ("Paid search", 3, 4.67, 3, 0, 0, None)
    assert paid.new and paid.change is None
    assert reasons(paid) == [("Great fit", 2), ("Ready to buy", 1), ("Right persona", 1)]
    assert figures(webinar) == ("Webinar", 5, 2.0, 1, 4, 3, 3.67)
    assert (webinar.good_share, webinar.bad_share, webinar.change) == (0.2, 0.8, -1.67)
    assert reasons(webinar) == [("No budget", 3), ("Wrong persona / no authority", 2), ("Great fit", 1)]
    assert (stats.unranked_sources.count, stats.unranked_sources.ratings) == (2, 3), "Email (2) and no source (1)"


def test_campaigns_are_ranked_from_3_ratings_however_reps_typed_them(seeded):
    four, twelve = stats_of(seeded), stats_of(seeded, StatsRequest(weeks=12))

    [q4] = four.campaigns
    assert (q4.label.casefold(), q4.ratings, q4.average, q4.good, q4.bad) == ("q4 roi webinar", 3, 1.67, 0, 3)
    assert reasons(q4) == [("No budget", 2), ("Wrong persona / no authority", 2)]
    assert q4.new
    assert (four.unranked_campaigns.count, four.unranked_campaigns.ratings) == (1, 2), "ABM tier 1 has 2"

    assert [(c.label.casefold(), c.ratings, c.average) for c in twelve.campaigns] == [
        ("abm tier 1", 3, 4.33), ("q4 roi webinar", 3, 1.67)]


def test_12_weeks_take_in_the_older_ratings_and_compare_with_the_12_weeks_before(seeded):
    stats = stats_of(seeded, StatsRequest(weeks=12))

    # 15 ratings since 7 September summing to 47 (P-1, P-3 and A-0 good too); only X-1 (1 July) in the 12 weeks before.
    assert figures(stats.total) == ("All sources", 15, 3.13, 7, 5, 1, 1.0)
    assert stats.total.change is None, "one rating before is too few to compare with"
    webinar = next(line for line in stats.sources if line.label == "Webinar")
    # 21 / 8 = 2.625, which as a float rounds down
    assert (webinar.ratings, webinar.average, webinar.previous_ratings) == (8, 2.62, 1)
    assert [line.label for line in stats.sources] == ["Paid search", "Webinar"]
    assert stats.sources[0].ratings == 4 and stats.sources[0].average == 4.5


def test_the_window_is_the_last_28_days_to_the_minute(seeded):
    rate(seeded, "U4", "EDGE-1 5 source:email", NOW - timedelta(weeks=4, minutes=1))  # just before: the window before
    rate(seeded, "U4", "EDGE-2 5 source:email", NOW - timedelta(weeks=4) + timedelta(minutes=1))  # just inside

    stats = stats_of(seeded)

    assert (stats.total.ratings, stats.total.previous_ratings) == (12, 4)


def test_an_empty_workspace_has_nothing_to_rank(crossfeed):
    stats = stats_of(crossfeed)

    assert figures(stats.total) == ("All sources", 0, None, 0, 0, 0, None)
    assert stats.sources == () and stats.campaigns == ()


def test_the_figures_are_one_statement_and_a_filter_adds_one(seeded):
    assert seeded.wait_idle(30), "the deliveries the ratings started did not finish"
    counter = StatementCounter(seeded.engine)
    stats_of(seeded)
    assert len(counter.take()) == 1

    stats_of(seeded, StatsRequest(about="webinar"))
    assert len(counter.take()) == 2


@pytest.mark.parametrize("typed, expected", [
    ("", StatsRequest(4, None)),
    ("12", StatsRequest(12, None)),
    ("12 weeks", StatsRequest(12, None)),
    ("4w webinar", StatsRequest(4, "webinar")),
    ('12 "Q4 ROI webinar"', StatsRequest(12, "Q4 ROI webinar")),
    ("Q4  ROI webinar", StatsRequest(4, "Q4 ROI webinar")),
    ("campaign:webinar", StatsRequest(4, "webinar", "campaign")),
    ('12W Source: "Paid search"', StatsRequest(12, "Paid search", "source")),
    ("webinar 12", StatsRequest(4, "webinar 12")),
    ('"2026 kickoff"', StatsRequest(4, "2026 kickoff")),
    ("note: campaigns", StatsRequest(4, "note: campaigns")),
])
def test_the_command_words_are_read_forgivingly(typed, expected):
    assert parse_stats_request(typed) == expected


# --- /leadfeedback stats --------------------------------------------------------------------------


@pytest.fixture
def asked(running, slack):
    """`/leadfeedback stats …` as a marketer types it, on Monday morning."""
    setup_teams(running.crossfeed)
    for user, text, at in RATINGS:
        rate(running.crossfeed, user, text, at)

    def ask(text: str):
        with freeze_time(NOW):
            reply = slack.command("/leadfeedback", f"stats {text}".strip(), user="M1")
        assert reply.status == 200
        assert reply.json["response_type"] == "ephemeral"
        return reply.json

    return ask


def text_of(answer: dict) -> str:
    return json.dumps(answer["blocks"], ensure_ascii=False)


def test_stats_shows_every_ranked_source_and_campaign_privately(asked):
    answer = asked("")

    assert answer["text"] == "Lead quality, last 4 weeks: 11 ratings, average 2.9/5"
    text = text_of(answer)
    assert answer["blocks"][0] == {"type": "header", "text": {"type": "plain_text", "text":
                                                              "Lead quality, last 4 weeks", "emoji": True}}
    assert "*Leads rated*\\n11" in text and "*Average*\\n2.9/5" in text and "36% / 45%" in text
    assert "▼0.8 :red_circle: _worse_ (from 3.7)" in text
    sources = text[text.index("*By source, best first*"):text.index("*By campaign")]
    assert sources.index("*Paid search* · 4.7/5 · 3 ratings · 100% good, 0% bad · new") < sources.index(
        "*Webinar* · 2.0/5 · 5 ratings · 20% good, 80% bad · ▼1.7 :red_circle: _worse_ (from 3.7)")
    assert "_Top reasons:_ No budget 3 · Wrong persona / no authority 2 · Great fit 1" in sources
    assert "_Top reasons:_ Great fit 2 · Ready to buy 1 · Right persona 1" in sources
    assert "plus 2 sources with fewer than 3 ratings (3 ratings in all)" in sources
    campaigns = text[text.index("*By campaign"):]
    assert "2.0/5 · 3 ratings" not in campaigns and "1.7/5 · 3 ratings · 0% good, 100% bad · new" in campaigns
    assert "plus 1 campaign with fewer than 3 ratings (2 ratings in all)" in campaigns


def test_stats_12_covers_12_weeks(asked):
    answer = asked("12")

    assert answer["text"] == "Lead quality, last 12 weeks: 15 ratings, average 3.1/5"
    text = text_of(answer)
    # Shown as one of the ways reps typed it (which one depends on the database's collation).
    assert "*ABM tier 1* · 4.3/5 · 3 ratings" in text or "*abm tier 1* · 4.3/5 · 3 ratings" in text
    assert "*Trend*\\ntoo few before (1)" in text


@pytest.mark.parametrize("typed", ["webinar", "Webinars", "12 webinar", "source:webinar"])
def test_a_source_by_code_label_or_alias(asked, typed):
    answer = asked(typed)

    weeks = 12 if typed.startswith("12") else 4
    text = text_of(answer)
    assert answer["text"].startswith(f"Lead quality, last {weeks} weeks: source Webinar: ")
    if weeks == 4:
        assert answer["text"].endswith("5 ratings, average 2.0/5")
        assert "*Trend*\\n▼1.7 :red_circle: _worse_ (from 3.7)" in text
        assert "*Top reasons*\\nNo budget 3 · Wrong persona / no authority 2 · Great fit 1" in text
        assert "20% / 80%" in text
    else:
        assert answer["text"].endswith("8 ratings, average 2.6/5")


def test_a_source_by_alias_and_a_campaign_in_any_case(asked):
    assert asked("ppc")["text"] == "Lead quality, last 4 weeks: source Paid search: 3 ratings, average 4.7/5"

    campaign = asked("Q4 roi WEBINAR")

    assert campaign["text"].startswith("Lead quality, last 4 weeks: campaign ")
    assert campaign["text"].endswith(": 3 ratings, average 1.7/5")
    assert "No budget 2 · Wrong persona / no authority 2" in text_of(campaign)


def test_a_thin_campaign_is_shown_but_said_to_be_too_few_to_rank(asked):
    answer = asked('"abm tier 1"')

    assert answer["text"].endswith(": 2 ratings, average 4.5/5")
    assert "Only 2 ratings: too few to rank (from 3)." in text_of(answer)


def test_a_known_source_without_ratings_says_so(asked):
    answer = asked("event")

    assert answer["text"] == "Lead quality, last 4 weeks: source Event / trade show: no ratings"
    assert "No leads from source *Event / trade show* were rated in the last 4 weeks." in text_of(answer)


@pytest.mark.parametrize("typed, problem", [
    ("8", "Stats cover the last 4 or 12 weeks, not 8."),
    ("0", "Stats cover the last 4 or 12 weeks, not 0."),
    ("podcasts", "“podcasts” isn't a source here, nor a campaign rated in the last 8 weeks."),
    ("source:abm tier 1", "“abm tier 1” isn't a source here."),
    ("campaign:spring & promo", "No campaign called “spring &amp; promo” was rated in the last 8 weeks."),
])
def test_bad_input_gets_a_friendly_usage_line_naming_the_sources(asked, running, typed, problem):
    before = rating_count(running.crossfeed)

    answer = asked(typed)

    assert answer["text"].startswith(problem)
    text = text_of(answer)
    assert "`/leadfeedback stats [4|12] [source or campaign]`" in text
    if "weeks" not in problem:
        assert "Sources: `paid-search`, `paid-social`" in text and "`webinar`" in text
        assert "Campaigns rated lately: “Q4 ROI" in text or "Campaigns rated lately: “q4 roi" in text
    assert rating_count(running.crossfeed) == before, "nothing is stored: `stats` is never read as a lead"


def test_help_names_the_stats_command(running, slack):
    for command in ("/leadfeedback", "/alignment"):
        text = text_of(slack.command(command, "help").json)

        assert "`/leadfeedback stats [4|12] [source or campaign]`" in text, command


def test_a_lead_called_stats_is_rated_with_quotes(running, slack):
    reply = slack.command("/leadfeedback", '"stats" 4')

    assert reply.json["text"] == "Rated stats: 4/5"


def test_a_new_workspace_is_told_how_ratings_start(running, slack):
    answer = slack.command("/leadfeedback", "stats").json

    assert answer["text"] == "Lead quality, last 4 weeks: no ratings"
    assert "No leads were rated in the last 4 weeks." in text_of(answer)
    assert "`/leadfeedback ACME-4411 2 no-budget source:webinar`" in text_of(answer)
    assert slack.command("/leadfeedback", "stats 12 webinar").json["text"] == (
        "Lead quality, last 12 weeks: source Webinar: no ratings")


# --- the marketers' Home --------------------------------------------------------------------------


def test_a_marketer_on_a_quiet_monday_sees_the_last_4_weeks_instead_of_an_empty_week(asked, running, slack):
    with freeze_time(NOW):
        assert open_home(slack, user="M1").status == 200
        running.settle()
        view = published(running.fake, "M1")[-1]
        assert open_home(slack, user="U1").status == 200
        running.settle()
        rep_view = published(running.fake, "U1")[-1]

    text = shown(view)
    marketing = text[text.index("For marketing"):]
    assert "No leads have been rated yet this week" not in marketing
    assert ":chart_with_upwards_trend: *Lead quality, last 4 weeks*" in marketing
    assert "11 rated · average 2.9/5 · 36% good, 45% bad · ▼0.8" in marketing
    sources = marketing[marketing.index("*By source, best first*"):marketing.index("*By campaign")]
    assert sources.index("*Paid search* · 4.7/5") < sources.index("*Webinar* · 2.0/5")
    assert "_Top reasons:_ No budget 3 · Wrong persona / no authority 2 · Great fit 1" in sources
    assert "1.7/5 · 3 ratings · 0% good, 100% bad · new" in marketing[marketing.index("*By campaign"):]
    assert "Lead quality, last 4 weeks" not in shown(rep_view), "reps don't get the marketing section"
    assert len(view["blocks"]) <= 100


def test_a_week_with_ratings_keeps_this_weeks_section_above_the_last_4_weeks(seeded):
    rate(seeded, "U1", "NEW-1 5 source:webinar", NOW + timedelta(hours=1))

    text = shown(view_of(seeded, "M1", now=NOW + timedelta(hours=2)))

    assert text.index("Lead quality this week") < text.index("Lead quality, last 4 weeks")
    assert "12 rated" in text


def test_a_workspace_with_no_ratings_at_all_still_says_none_this_week(crossfeed):
    setup_teams(crossfeed)

    text = shown(view_of(crossfeed, "M1", now=NOW))

    assert "No leads have been rated yet this week" in text and "last 4 weeks" not in text


def test_many_sources_and_campaigns_stay_inside_home_and_message_limits(crossfeed):
    from bot.blocks.lead_stats import stats_message
    from storage.defaults import DEFAULT_SOURCES

    setup_teams(crossfeed)
    long = "Campaign <b> " + "x" * 120
    for n in range(60):
        reason = " no-budget" if n % 5 < 2 else ""
        source = DEFAULT_SOURCES[n % 12].code
        rate(crossfeed, f"U{n % 4 + 1}", f'L-{n} {n % 5 + 1}{reason} source:{source} campaign:"{long} {n % 20}"',
             day(11, 10 + n % 15))

    view = view_of(crossfeed, "M1", now=NOW)
    text = shown(view)

    assert "…and 14 more" in text, "20 campaigns, 6 shown"
    _, blocks = stats_message(stats_of(crossfeed))
    assert all(len(block.to_dict()["text"]["text"]) <= 3000 for block in blocks if block.to_dict().get("text"))


# --- the digest ranks campaigns over 4 weeks --------------------------------------------------


def test_the_digest_ranks_a_campaign_rated_3_times_in_4_weeks(seeded):
    week = last_complete_week(NOW, NY)  # 2026-W48, 23–29 November: one Q4 ROI webinar rating at most
    with seeded.transaction() as session:
        digest = build_weekly_digest(session=session, team_id=TEAM, week=week)

    assert [(c.label.casefold(), c.ratings, c.average) for c in digest.leads.ranked_campaigns] == [
        ("q4 roi webinar", 3, 1.67)]

