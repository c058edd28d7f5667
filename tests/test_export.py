"""CSV export: `/alignment export` DMs six files; `python -m bot export` writes them for operators."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from freezegun import freeze_time

from bot.export import export_csvs
from tests.helpers import OPENING, ROOT, button, make_teams, open_round, prompts, run


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def seed(running, slack):
    make_teams(running.crossfeed, sales=["U1", "U2", "U3"], marketing=["M1"])
    slack.command("/leadfeedback", 'ACME-1 2 no-budget wrong-persona source:webinar "=cmd|x ,quoted"', user="U1")
    slack.command("/leadfeedback", "ACME-2 5 great-fit source:carrier-pigeon", user="U2")
    open_round(running.crossfeed)
    dms = prompts(running.fake)
    with freeze_time(OPENING + timedelta(hours=1)):
        for user in ("U1", "U2", "U3", "M1"):
            action_id, value = button(dms[user], 0, 4)
            slack.click(action_id, value, user=user, channel=f"D{user}")
        running.settle()


def test_export_contents(running, slack):
    seed(running, slack)

    with running.crossfeed.sessions() as session:
        files = export_csvs(session=session, team_id="T1", now=OPENING + timedelta(days=4), weeks=12)

    leads = rows(files["lead_ratings.csv"])
    assert [(r["rater_user_id"], r["lead"], r["rating"], r["reasons"], r["source"], r["typed_source"])
            for r in leads] == [("U1", "ACME-1", "2", "wrong-persona no-budget", "Webinar", ""),
                                ("U2", "ACME-2", "5", "great-fit", "Other", "carrier-pigeon")]
    assert leads[0]["note"] == "'=cmd|x ,quoted", "typed text never becomes a spreadsheet formula"
    pulse = rows(files["pulse_aggregates.csv"])
    assert {r["week"] for r in pulse} == {"2026-W48"}
    assert {(r["team"], r["asked"], r["answered"], r["average"]) for r in pulse if "aligned" in r["question"]} == {
        ("Sales", "3", "3", "4.00"), ("Marketing", "1", "1", "hidden (below the anonymity threshold)")}
    assert "respondent" not in files["pulse_aggregates.csv"] and "U1" not in files["pulse_aggregates.csv"]
    assert rows(files["messaging_answers.csv"]) == []


def test_alignment_export_dms_the_files_to_the_admin(running, slack):
    seed(running, slack)
    slack.command("/alignment", "admin add <@UADMIN>", user="UADMIN")

    refused = slack.command("/alignment", "export", user="U2")
    bad = slack.command("/alignment", "export forever", user="UADMIN")
    reply = slack.command("/alignment", "export 4", user="UADMIN")
    running.settle()

    assert "Only Crossfeed admins" in refused.body
    assert "from 1 to 520" in bad.body
    assert "Preparing the export of the last 4 complete weeks and this week so far" in reply.body
    [opened] = running.fake.calls_to("conversations.open")
    assert opened.params["users"] == "UADMIN"
    assert len(running.fake.calls_to("files.getUploadURLExternal")) == 6
    [complete] = running.fake.calls_to("files.completeUploadExternal")
    assert complete.params["channel_id"] == "DUADMIN"


def test_python_m_bot_export_writes_csv_files(tmp_path, running, slack):
    seed(running, slack)

    result = run(["-m", "bot", "export", "--out", str(tmp_path / "out"), "--weeks", "520"],
                 {"DATABASE_URL": running.settings.database_url, "PYTHONPATH": str(ROOT)}, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    written = sorted(p.name for p in (tmp_path / "out" / "T1").iterdir())
    assert written == ["actions.csv", "field_intel.csv", "lead_ratings.csv", "leads.csv", "messaging_answers.csv",
                       "pulse_aggregates.csv"]
    assert "ACME-1" in (tmp_path / "out" / "T1" / "lead_ratings.csv").read_text()


def test_export_n_is_n_complete_digest_weeks_plus_this_week_so_far(running, slack):
    from bot.digest import build_weekly_digest, week_of

    ny = ZoneInfo("America/New_York")
    make_teams(running.crossfeed, sales=["U1", "U2", "U3"], marketing=["M1"])  # the workspace is in New York
    for lead, at in [("W46-LATE", datetime(2026, 11, 15, 22, tzinfo=ny)),  # Monday 03:00 UTC, still W46 there
                     ("W47-MONDAY", datetime(2026, 11, 16, 10, tzinfo=ny)),
                     ("W48-SUNDAY", datetime(2026, 11, 29, 23, tzinfo=ny)),
                     ("W49-TODAY", datetime(2026, 12, 2, 9, tzinfo=ny))]:
        with freeze_time(at):
            slack.command("/leadfeedback", f"{lead} 3", user="U1")
    now = datetime(2026, 12, 2, 12, tzinfo=ny)  # Wednesday of 2026-W49

    with running.crossfeed.sessions() as session:
        files = export_csvs(session=session, team_id="T1", now=now, weeks=2)
        w47 = build_weekly_digest(session=session, team_id="T1", week=week_of(datetime(2026, 11, 18, tzinfo=ny), ny))

    leads = rows(files["lead_ratings.csv"])
    assert [(r["week"], r["lead"]) for r in leads] == [
        ("2026-W47", "W47-MONDAY"), ("2026-W48", "W48-SUNDAY"), ("2026-W49", "W49-TODAY")]
    assert len([r for r in leads if r["week"] == "2026-W47"]) == w47.leads.ratings, "export and digest agree"
