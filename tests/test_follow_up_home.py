"""Home's lead follow-up: a lead's owner sees what waits for them with the working time left, marketers see their
sources' follow-up over 4 weeks, leaders see the week's; each costs one statement, and only when it has rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bench.ack_latency import StatementCounter
from tests.follow_up_kit import NY, hand_off
from tests.test_digest import DUE
from tests.test_follow_up_digest import seed_handoffs
from tests.test_home import open_home, published, setup_teams, shown, summary_of, view_of
from tests.test_rating_cost import HOME_BUDGET

# Tuesday 17 November 2026, 10:00 in New York (working hours 09:00–17:00, Monday to Friday).
TUESDAY = datetime(2026, 11, 17, 10, 0, tzinfo=NY)
# Friday 20 November 2026, noon.
FRIDAY = datetime(2026, 11, 20, 12, 0, tzinfo=NY)


def nov(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=NY)


def section(view: dict, heading: str) -> str:
    [text] = [block["text"]["text"] for block in view["blocks"] if heading in block.get("text", {}).get("text", "")]
    return text


def test_a_rep_sees_their_open_leads_soonest_due_first_with_the_working_time_left(crossfeed):
    setup_teams(crossfeed)
    hand_off(crossfeed, "A-1", nov(17, 9, 30), source="webinar", name="Ann Lee", company="Acme & Co",
             url="https://crm.example.com/leads/A-1")  # due Tue 10:30: 30 minutes left at 10:00
    hand_off(crossfeed, "B-1", nov(16, 16, 30))  # 30 min Monday + 30 Tuesday: due Tue 09:30, overdue by 30 min
    hand_off(crossfeed, "C-1", nov(16, 10), source="email")  # due Mon 11:00: overdue 6 h Monday + 1 h Tuesday
    hand_off(crossfeed, "D-1", nov(16, 10), accepted_at=nov(16, 10, 20))  # accepted: not waiting
    hand_off(crossfeed, "E-1", nov(16, 10), owner="U2")  # someone else's
    hand_off(crossfeed, "F-1", nov(16, 10), owner=None)  # in the sales channel, to claim

    view = view_of(crossfeed, "U1", TUESDAY)

    assert section(view, "Leads waiting for you to accept").split("\n")[1:] == [
        "*C-1* · Email · :warning: *overdue* by 7 h",
        "*B-1* · :warning: *overdue* by 30 min",
        "*<https://crm.example.com/leads/A-1|A-1>* · Ann Lee, Acme &amp; Co · Webinar · "
        ":hourglass_flowing_sand: 30 min left",
    ]
    assert "Leads waiting for you" not in shown(view_of(crossfeed, "U3", TUESDAY)), "nothing waits for U3"


def test_time_left_runs_in_working_time_over_the_weekend(crossfeed):
    setup_teams(crossfeed)
    hand_off(crossfeed, "A-1", nov(20, 16, 45))  # 15 minutes on Friday, due Monday 09:45

    saturday = summary_of(crossfeed, "U1", nov(21, 12)).open_leads.shown[0]
    monday = summary_of(crossfeed, "U1", nov(23, 9, 40)).open_leads.shown[0]

    assert (saturday.minutes_left, monday.minutes_left) == (45, 5)


def test_a_reps_open_leads_reach_their_home_through_slack(running, slack):
    setup_teams(running.crossfeed)
    now = datetime.now(UTC)
    hand_off(running.crossfeed, "ACME-<1>", now - timedelta(days=20))  # long overdue, whatever the hour now

    open_home(slack, "U1")
    [view] = published(running.fake, "U1")

    assert "*ACME-&lt;1&gt;* · :warning: *overdue* by" in section(view, "Leads waiting for you to accept")


def test_a_marketer_sees_follow_up_by_source_over_the_last_4_weeks_slowest_first(crossfeed):
    setup_teams(crossfeed)
    hand_off(crossfeed, "W-1", nov(16, 10), source="webinar", accepted_at=nov(16, 10, 30))  # 30: within
    hand_off(crossfeed, "W-2", nov(17, 10), source="webinar", accepted_at=nov(17, 12))  # 120: late
    hand_off(crossfeed, "W-3", nov(18, 10), source="webinar", accepted_at=nov(18, 11, 30))  # 90: late
    hand_off(crossfeed, "W-0", datetime(2026, 10, 1, 10, tzinfo=NY), source="webinar",
             accepted_at=datetime(2026, 10, 1, 10, 5, tzinfo=NY))  # before the 4 weeks
    hand_off(crossfeed, "P-1", nov(16, 10), source="paid-search", accepted_at=nov(16, 10, 10))  # 10: within
    hand_off(crossfeed, "P-2", nov(17, 10), source="paid-search", accepted_at=nov(17, 10, 20))  # 20: within
    hand_off(crossfeed, "P-3", nov(20, 11, 30), source="paid-search")  # due 12:30: not decided at noon
    hand_off(crossfeed, "E-1", nov(19, 10), source="email")  # due Thu 11:00, still open: missed

    view = view_of(crossfeed, "M1", FRIDAY)

    # Webinar: 30, 90, 120 → median 90; 1 of 3 within. Paid search: 10, 20 → median 15; 2 of the 2 decided.
    assert section(view, "Follow-up by source").split("\n")[1:] == [
        "Email: none accepted yet · 0% within SLA · 1 lead",
        "Webinar: median 1 h 30 min · 33% within SLA · 3 leads",
        "Paid search: median 15 min · 100% within SLA · 3 leads",
    ]
    assert "Follow-up by source" not in shown(view_of(crossfeed, "U1", FRIDAY)), "for marketers"


def test_leaders_see_last_weeks_follow_up_in_the_digest_summary(crossfeed):
    setup_teams(crossfeed, leaders=("L1",))
    seed_handoffs(crossfeed)

    view = view_of(crossfeed, "L1", DUE)  # as the digest was posted: P-3 and N-1 are not due yet

    assert "*Leads accepted within SLA*\\n57% (4 of 7) · median 35 min" in shown(view)


def test_each_follow_up_section_costs_one_statement_and_only_when_it_has_rows(crossfeed):
    setup_teams(crossfeed)
    counter = StatementCounter(crossfeed.engine)

    def statements(user: str) -> int:
        counter.take()
        summary_of(crossfeed, user, FRIDAY)
        return len([sql for _, _, sql in counter.take() if not sql.startswith("BEGIN")])

    rep, marketer = statements("U1"), statements("M1")
    assert rep <= HOME_BUDGET
    hand_off(crossfeed, "A-1", nov(20, 11), owner="U1")

    assert statements("U1") == rep + 1, "the open lead"
    assert statements("M1") == marketer + 1, "the sources' follow-up"
    assert statements("U2") == rep, "nothing waits for U2"
