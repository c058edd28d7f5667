"""/alignment team and admin commands, and who may run them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from bot.teams import require_admin
from storage import teams as store


def members(crossfeed) -> dict[str, str]:
    with crossfeed.sessions() as session:
        return {m.user_id: f"{m.side}/{m.origin}" for m in store.team_members(session=session, team_id="T1")}


def admins(crossfeed) -> list[str]:
    with crossfeed.sessions() as session:
        return store.admin_ids(session=session, team_id="T1")


def test_the_first_person_to_run_an_admin_command_becomes_admin_and_is_told(running, slack):
    reply = slack.command("/alignment", "team add <@U2|jane> <@U3|bob> sales", user="U1")

    assert "You are now this workspace's first Crossfeed admin" in reply.body
    assert "Added 2 people to sales." in reply.json["text"]
    assert admins(running.crossfeed) == ["U1"]
    assert members(running.crossfeed) == {"U2": "sales/explicit", "U3": "sales/explicit"}


def test_the_first_admin_s_time_zone_becomes_the_workspace_s(running, slack):
    slack.command("/alignment", "team list", user="U1")  # not an admin command: no admin made
    slack.command("/alignment", "admin add <@U5|kim>", user="U1")
    running.settle()

    [info] = running.fake.calls_to("users.info")
    assert info.params["user"] == "U1"
    with running.crossfeed.sessions() as session:
        assert store.workspace_config(session=session, team_id="T1").timezone == "America/New_York"


def test_non_admins_cannot_change_teams_and_are_told_who_can(running, slack):
    slack.command("/alignment", "team add <@U2|jane> sales", user="U1")

    reply = slack.command("/alignment", "team add <@U9|mallory> marketing", user="U7")

    assert "Only Crossfeed admins can do that. Ask one of them: <@U1>." in reply.body
    assert "U9" not in members(running.crossfeed)
    for text in ("team remove <@U2|jane>", "team sync", "team group <!subteam^S1|@s> sales", "admin add <@U7>"):
        assert "Only Crossfeed admins" in slack.command("/alignment", text, user="U7").body
    assert members(running.crossfeed) == {"U2": "sales/explicit"} and admins(running.crossfeed) == ["U1"]


def test_configured_admins_need_no_bootstrap_and_block_it(start_app):
    app = start_app(admin_user_ids=frozenset({"UADMIN"}))

    refused = app.slack.command("/alignment", "team add <@U2|jane> sales", user="U1")
    allowed = app.slack.command("/alignment", "team add <@U2|jane> sales", user="UADMIN")

    assert "Only Crossfeed admins" in refused.body and "<@UADMIN>" in refused.body
    assert "Added 1 person to sales." in allowed.body
    assert "first Crossfeed admin" not in allowed.body
    assert admins(app.crossfeed) == []


def test_an_admin_adds_admins_who_can_then_change_teams(running, slack):
    slack.command("/alignment", "admin add <@U2|jane>", user="U1")

    reply = slack.command("/alignment", "team add <@U3|bob> mktg", user="U2")

    assert "Added 1 person to marketing." in reply.body
    assert admins(running.crossfeed) == ["U1", "U2"]


def test_adding_to_the_other_team_moves_a_person_and_remove_takes_them_out(running, slack):
    slack.command("/alignment", "team add <@U2|jane> sales")
    slack.command("/alignment", "team add <@U2|jane> marketing")
    assert members(running.crossfeed) == {"U2": "marketing/explicit"}

    reply = slack.command("/alignment", "team remove <@U2|jane>")

    assert "Removed 1 of 1" in reply.body and members(running.crossfeed) == {}


def test_team_commands_explain_bad_input(running, slack):
    no_side = slack.command("/alignment", "team add <@U2|jane>")
    nobody = slack.command("/alignment", "team add sales")

    assert "Say which team: `sales` or `marketing`." in no_side.body
    assert "Mention the people to add" in nobody.body
    assert members(running.crossfeed) == {}


def test_team_list_shows_both_teams_and_admins(running, slack):
    slack.command("/alignment", "team add <@U2|jane> sales")
    slack.command("/alignment", "team add <@U3|kim> marketing")

    reply = slack.command("/alignment", "team list", user="U8")

    blocks = reply.json["blocks"]
    assert "*Sales* (1)" in blocks[1]["text"]["text"] and "<@U2>" in blocks[1]["text"]["text"]
    assert "*Marketing* (1)" in blocks[2]["text"]["text"] and "<@U3>" in blocks[2]["text"]["text"]
    assert "Admins: <@U1>" in blocks[3]["elements"][0]["text"]


def test_user_groups_sync_into_teams_keeping_explicit_members(running, slack):
    running.fake.usergroups = {"S0SALES": ["U10", "U11", "U2"], "S0MKT": ["U20"]}
    slack.command("/alignment", "team add <@U2|jane> marketing")
    slack.command("/alignment", "team add <@U99|old> sales")
    slack.command("/alignment", "team group <!subteam^S0SALES|@sales-team> sales")
    slack.command("/alignment", "team group <!subteam^S0MKT|@mkt> marketing")

    reply = slack.command("/alignment", "team sync")
    running.settle()

    assert "Syncing teams" in reply.body
    assert members(running.crossfeed) == {
        "U2": "marketing/explicit", "U99": "sales/explicit",
        "U10": "sales/usergroup", "U11": "sales/usergroup", "U20": "marketing/usergroup",
    }
    [done] = [c for c in running.fake.calls_to("response_url") if "synced" in c.params["text"]]
    assert "sales: 3 from the user group" in done.params["text"]

    running.fake.usergroups = {"S0SALES": ["U11"], "S0MKT": ["U20"]}
    slack.command("/alignment", "team sync")
    running.settle()
    assert "U10" not in members(running.crossfeed) and "U11" in members(running.crossfeed)


def test_two_people_racing_to_be_first_admin_make_one(crossfeed):
    def claim(user):
        try:
            with crossfeed.transaction() as session:
                return require_admin(session=session, team_id="T1", user_id=user,
                                     configured=frozenset()).became_first_admin
        except Exception:
            return False

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(claim, ["UA", "UB", "UC", "UD"]))

    assert results.count(True) == 1
    assert len(admins(crossfeed)) == 1


def test_admins_set_the_pulse_schedule_and_time_zone(running, slack):
    schedule = slack.command("/alignment", "pulse schedule biweekly Thursday 9:30")
    zone = slack.command("/alignment", "timezone Europe/Paris")
    bad_zone = slack.command("/alignment", "timezone Mars/Olympus")
    bad_schedule = slack.command("/alignment", "pulse schedule sometimes")
    refused = slack.command("/alignment", "timezone UTC", user="U7")

    assert "every two weeks on Thu at 09:30" in schedule.body
    assert "Europe/Paris" in zone.body
    assert "isn't a time zone I know" in bad_zone.body
    assert "I couldn't read that schedule" in bad_schedule.body
    assert "Only Crossfeed admins" in refused.body
    with running.crossfeed.sessions() as session:
        config = store.workspace_config(session=session, team_id="T1")
        assert (config.pulse_cadence, config.pulse_day, config.pulse_time, config.timezone) == (
            "biweekly", "thu", "09:30", "Europe/Paris")


def test_status_shows_the_configuration_and_next_runs(running, slack):
    slack.command("/alignment", "team add <@U2|jane> <@U3|kim> sales")
    slack.command("/alignment", "digest channels <#C0LEAD|leadership>")

    reply = slack.command("/alignment", "status", user="U9")

    text = reply.body
    assert "Sales 2" in text and "Marketing 0" in text
    assert "every week on Wed at 10:00" in text and "every Mon at 09:00 to <#C0LEAD>" in text
    assert "scores from 3 answers, comments from 5" in text
    assert text.count("<!date^") == 2, "next pulse and next digest, in the reader's time zone"


def test_first_run_pulse_points_to_team_setup(running, slack):
    reply = slack.command("/pulse", user="U1")

    assert "Pulse checks aren't set up here yet" in reply.body and "/alignment team add" in reply.body


def test_a_malformed_admin_command_says_who_may_run_it_before_what_is_wrong(running, slack):
    unreadable = slack.command("/alignment", "team add sales", user="U1")

    assert "Mention the people to add" in unreadable.body
    assert admins(running.crossfeed) == []  # a command that did nothing makes nobody the first admin

    slack.command("/alignment", "team add <@U2|jane> sales", user="U1")
    for text in ("team add sales", "timezone Mars/Olympus", "pulse schedule sometimes", "export forever"):
        assert "Only Crossfeed admins" in slack.command("/alignment", text, user="U7").body, text
    assert admins(running.crossfeed) == ["U1"]
