"""A "Log action" button's value, or the action modal's private_metadata, tampered with: every field is capped,
and a prompt naming an item this workspace doesn't have is stored as no prompt (nor shown as one)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.blocks.ids import ActionIds as Ids
from bot.results.actions import PROMPT_LABEL_MAX, TITLE_MAX, ActionPrompt
from storage.models import Action, LeadRating
from tests.helpers import make_teams

MARKETER, REP = "UMKT", "UREP"
HUGE = "R" * 50_000


@pytest.fixture
def app(running):
    make_teams(running.crossfeed, sales=[REP], marketing=[MARKETER])
    running.slack.command("/leadfeedback", 'ACME-1 2 no-budget source:webinar campaign:"Q4 launch"', user=REP)
    running.settle()
    running.fake.reset()
    return running


def rating_id(app) -> int:
    with app.crossfeed.sessions() as session:
        return session.scalar(select(LeadRating.id))


def form_values() -> dict:
    due = datetime.now(ZoneInfo("America/New_York")).date() + timedelta(days=3)
    return {Ids.TITLE: {Ids.TITLE: {"type": "plain_text_input", "value": "Fix it"}},
            Ids.OWNER: {Ids.OWNER: {"type": "users_select", "selected_user": MARKETER}},
            Ids.DUE: {Ids.DUE: {"type": "datepicker", "selected_date": str(due)}}}


def log_with(app, value: str) -> tuple[dict, Action]:
    """Click "Log action" carrying `value`, then submit the modal with the same value as its metadata (as a
    forger would, whatever the app wrote there); returns the modal opened and the action stored."""
    app.slack.click(Ids.NEW, value, user=MARKETER)
    [opened] = app.fake.wait_for("views.open")
    reply = app.slack.submit({**opened.view, "private_metadata": value}, form_values(), user=MARKETER)
    app.settle()
    assert reply.status == 200 and reply.json["response_action"] == "update", reply.body
    with app.crossfeed.sessions() as session:
        [action] = session.scalars(select(Action)).all()
    return opened.view, action


def stored_prompt(action: Action) -> tuple:
    return action.prompt_kind, action.prompt_ref, action.prompt_label


def test_from_value_caps_every_field_and_reads_anything_but_text_as_none():
    forged = json.dumps({"k": "talking_point", "r": HUGE, "l": HUGE, "t": HUGE})

    prompt = ActionPrompt.from_value(forged)

    assert (len(prompt.ref), len(prompt.label), len(prompt.title)) == (PROMPT_LABEL_MAX, PROMPT_LABEL_MAX, TITLE_MAX)
    odd = ActionPrompt.from_value(json.dumps({"k": "source", "r": ["webinar"], "l": {"x": 1}, "t": True}))
    assert (odd.kind, odd.ref, odd.label, odd.title) == ("source", None, None, None)
    assert ActionPrompt.from_value(json.dumps({"k": "evil"})) == ActionPrompt()


@pytest.mark.parametrize("kind, ref", [
    ("rating", "424242"), ("rating", "99999999999999999999"), ("rating", "-1"), ("intel", "1"), ("ask", "1"),
    ("source", "no-such-source"), ("reason", "no-such-reason"), ("campaign", "Q5 launch"), ("pulse", "2030-W01:q0"),
    ("none", "424242"),
])
def test_a_prompt_naming_nothing_here_is_stored_and_shown_as_no_prompt(app, kind, ref):
    value = ActionPrompt(kind=kind, ref=ref, label="Lead ACME-9 rated 1/5 <!channel>", title="Fix it").to_value()

    view, action = log_with(app, value)

    assert "Prompted by" not in json.dumps(view["blocks"])
    assert stored_prompt(action) == ("none", None, None)


@pytest.mark.parametrize("kind, ref", [("rating", None), ("reason", "no-budget"), ("source", "webinar"),
                                       ("campaign", "Q4 launch")])
def test_a_prompt_naming_a_real_item_is_stored_as_it_came(app, kind, ref):
    ref = ref or str(rating_id(app))
    value = ActionPrompt(kind=kind, ref=ref, label="Lead ACME-1 rated 2/5").to_value()

    view, action = log_with(app, value)

    assert "Prompted by" in json.dumps(view["blocks"])
    assert stored_prompt(action) == (kind, ref, "Lead ACME-1 rated 2/5")


def test_a_huge_forged_prompt_is_capped_to_its_columns_and_stored_once(app):
    value = json.dumps({"k": "talking_point", "r": HUGE, "l": HUGE, "t": HUGE})

    _, action = log_with(app, value)

    assert stored_prompt(action) == ("talking_point", "R" * PROMPT_LABEL_MAX, "R" * PROMPT_LABEL_MAX)
    assert action.due_on > date(2026, 1, 1)
