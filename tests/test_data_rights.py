"""/alignment forget: a confirmation step, then a person's data is gone; pulse answers stay anonymous."""

from __future__ import annotations

from datetime import timedelta

from freezegun import freeze_time
from sqlalchemy import func, select

from storage.models import LeadRating, LeadRatingReason, Person, PulseAnswer, PulseParticipation
from tests.helpers import OPENING, button, make_teams, open_round, prompts


def count(crossfeed, model, **where) -> int:
    with crossfeed.sessions() as session:
        query = select(func.count()).select_from(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        return session.scalar(query)


def test_forget_asks_first_then_deletes_only_that_persons_data(running, slack):
    make_teams(running.crossfeed, sales=["U2", "U3"], marketing=["U4"])
    slack.command("/alignment", "admin list", user="UADMIN")
    slack.command("/alignment", "admin add <@UADMIN>", user="UADMIN")
    slack.command("/leadfeedback", "ACME-1 2 no-budget", user="U2")
    slack.command("/leadfeedback", "ACME-2 4", user="U3")
    open_round(running.crossfeed)
    action_id, value = button(prompts(running.fake)["U2"], 0, 4)
    with freeze_time(OPENING + timedelta(hours=1)):
        slack.click(action_id, value, user="U2", channel="DU2", message_ts="1.1")
        running.settle()

    asked = slack.command("/alignment", "forget <@U2|jane>", user="UADMIN")

    assert "Delete what Crossfeed holds about <@U2>?" in asked.body
    assert count(running.crossfeed, LeadRating, rater_user_id="U2") == 1, "nothing is deleted before confirming"

    refused = slack.command("/alignment", "forget <@U2|jane>", user="U3")
    assert "Only Crossfeed admins" in refused.body

    running.fake.reset()
    slack.click("alignment.forget_confirm", "U2", user="UADMIN")
    running.settle()

    [done] = running.fake.calls_to("response_url")
    assert done.params["replace_original"] is True
    assert "1 lead ratings" in done.params["text"] and "1 pulse participation rows" in done.params["text"]
    assert count(running.crossfeed, LeadRating, rater_user_id="U2") == 0
    assert count(running.crossfeed, LeadRatingReason) == 0
    assert count(running.crossfeed, PulseParticipation, user_id="U2") == 0
    assert count(running.crossfeed, LeadRating, rater_user_id="U3") == 1
    assert count(running.crossfeed, PulseParticipation) == 2
    assert count(running.crossfeed, PulseAnswer) == 1, "anonymous answers stay in the aggregates"


def test_a_non_admin_clicking_confirm_deletes_nothing(running, slack):
    slack.command("/alignment", "admin add <@UADMIN>", user="UADMIN")
    slack.command("/leadfeedback", "ACME-1 2", user="U2")

    slack.click("alignment.forget_confirm", "U2", user="U3")
    running.settle()

    assert count(running.crossfeed, LeadRating) == 1
    assert "Only Crossfeed admins" in running.fake.calls_to("response_url")[0].params["text"]


def test_cancel_deletes_nothing(running, slack):
    slack.command("/leadfeedback", "ACME-1 2", user="U2")

    slack.click("alignment.forget_cancel", "U2", user="U1")
    running.settle()

    assert count(running.crossfeed, LeadRating) == 1
    assert "nothing was deleted" in running.fake.calls_to("response_url")[0].params["text"]


def test_forget_deletes_the_persons_zone_status_and_time_off(running, slack):
    make_teams(running.crossfeed, sales=["U2", "U3"], marketing=[])
    slack.command("/alignment", "admin add <@UADMIN>", user="UADMIN")
    slack.command("/pulse", "away tomorrow", user="U2")
    slack.command("/pulse", "away tomorrow", user="U3")
    running.settle()
    assert count(running.crossfeed, Person) == 2

    slack.click("alignment.forget_confirm", "U2", user="UADMIN")
    running.settle()

    assert "1 time zone and time-off records" in running.fake.calls_to("response_url")[-1].params["text"]
    assert count(running.crossfeed, Person, user_id="U2") == 0
    assert count(running.crossfeed, Person, user_id="U3") == 1
