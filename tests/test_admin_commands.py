"""`/alignment` text read into its sub-command model: what each needs, and what a person is told when it's missing."""

from __future__ import annotations

import pytest

from bot.admin_commands import (
    AdminAdd,
    DigestChannels,
    DigestPost,
    DigestSchedule,
    Export,
    Forget,
    PulseSchedule,
    Setup,
    Show,
    TeamAdd,
    TeamGroup,
    TeamRemove,
    TeamSync,
    Timezone,
    read_command,
)
from bot.errors import InvalidInput


@pytest.mark.parametrize(("text", "command"), [
    ("team add <@U2|jane> <@U3|bob> Mktg", TeamAdd(side="marketing", users=["U2", "U3"])),
    ("TEAM REMOVE <@U2|jane> <@U2|jane>", TeamRemove(users=["U2"])),
    ("team group <!subteam^S0SALES|@sales-team> sales", TeamGroup(group="S0SALES", side="sales")),
    ("team sync", TeamSync()),
    ("admin add <@U5|kim>", AdminAdd(users=["U5"])),
    ("pulse schedule fortnightly Thursday 9:30", PulseSchedule(cadence="biweekly", day="thu", time="09:30")),
    ("timezone Europe/Paris", Timezone(name="Europe/Paris")),
    ("digest post", DigestPost()),
    ("digest channels <#C0LEAD|leadership> <#C0EXEC|exec>", DigestChannels(channels=["C0LEAD", "C0EXEC"])),
    ("digest schedule mon 9:00", DigestSchedule(day="mon", time="09:00")),
    ("export", Export(weeks=12)),
    ("export 26", Export(weeks=26)),
    ("forget <@U2|jane>", Forget(user="U2")),
    ("setup", Setup()),
    ("digest last", Show(what="digest", which="last")),
    ("digest", Show(what="digest", which="")),
    ("status", Show(what="status")),
    ("admin list", Show(what="roster")),
    ("", Show(what="help")),
    ("teams", Show(what="help")),
])
def test_each_sub_command_reads_into_its_model(text, command):
    assert read_command(text) == command


@pytest.mark.parametrize(("text", "says"), [
    ("team add <@U2|jane>", "Say which team: `sales` or `marketing`."),
    ("team add", "Say which team"),  # the team is asked for first, then the people
    ("team add sales", "Mention the people to add"),
    ("team group <!subteam^S1|@a> <!subteam^S2|@b> sales", "Mention one user group"),
    ("pulse schedule sometimes", "I couldn't read that schedule."),
    ("digest schedule soon", "I couldn't read that."),
    ("timezone Mars/Olympus", "“Mars/Olympus” isn't a time zone I know."),
    ("timezone <b>", "“&lt;b&gt;” isn't a time zone I know."),
    ("export 0", "Give a number of weeks from 1 to 520"),
    ("forget <@U2|jane> <@U3|bob>", "Mention one person"),
])
def test_what_is_missing_is_said_once_in_the_words_people_see(text, says):
    with pytest.raises(InvalidInput) as refused:
        read_command(text)
    assert refused.value.message.startswith(says)
    assert len(refused.value.fields) == 1
