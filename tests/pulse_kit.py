"""Helpers for pulse tests: teams, opening a round at a frozen time, reading the DMs."""

from __future__ import annotations

import json
from datetime import datetime

from freezegun import freeze_time
from sqlalchemy import func, select

from schedules import jobs
from storage import teams as store
from storage.models import PulseAnswer, PulseComment, PulseParticipation

# Wednesday 25 November 2026, 10:00 in New York (EST, UTC-5): the default opening.
OPENING = datetime.fromisoformat("2026-11-25T15:00:00+00:00")


def make_teams(crossfeed, *, sales: list[str], marketing: list[str], timezone: str = "America/New_York",
               **config) -> None:
    with crossfeed.transaction() as session:
        workspace = store.workspace_config(session=session, team_id="T1")
        workspace.timezone = timezone
        for key, value in config.items():
            setattr(workspace, key, value)
        store.put_members(session=session, team_id="T1", user_ids=sales, side="sales", origin="explicit")
        store.put_members(session=session, team_id="T1", user_ids=marketing, side="marketing", origin="explicit")


def open_round(crossfeed, at: datetime = OPENING) -> str:
    jobs.use(crossfeed)
    with freeze_time(at):
        summary = jobs.open_pulse_rounds()
        # The opening's commit started the prompts' delivery in the background: wait for it, at that time.
        assert crossfeed.wait_idle(30), "the prompts' delivery did not finish"
        return summary


def prompts(fake) -> dict[str, dict]:
    """user → the pulse DM they got (the last successful post to them)."""
    return {call.params["channel"]: call.params for call in fake.calls_to("chat.postMessage", succeeded=True)
            if "pulse" in call.params.get("text", "").casefold()}


def button(dm: dict, question: int, score: int) -> tuple[str, str]:
    """(action_id, value) of a score button in a pulse DM."""
    action_id = f"pulse.answer.{question}.{score}"
    for block in dm["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return action_id, element["value"]
    raise AssertionError(f"no button {action_id}")


def comment_button(dm: dict) -> str:
    for block in dm["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == "pulse.comment":
                return element["value"]
    raise AssertionError("no comment button")


def answers(crossfeed) -> list[tuple]:
    with crossfeed.sessions() as session:
        return [tuple(r) for r in session.execute(
            select(PulseAnswer.side, PulseAnswer.question, PulseAnswer.score).order_by(
                PulseAnswer.side, PulseAnswer.question, PulseAnswer.score))]


def answer_count(crossfeed) -> int:
    with crossfeed.sessions() as session:
        return session.scalar(select(func.count()).select_from(PulseAnswer))


def comments(crossfeed) -> list[str]:
    with crossfeed.sessions() as session:
        return list(session.scalars(select(PulseComment.text)))


def ledger(crossfeed) -> dict[str, str | None]:
    with crossfeed.sessions() as session:
        return {p.user_id: p.answered_via for p in session.scalars(select(PulseParticipation))}


def value_of(raw: str) -> dict:
    return json.loads(raw)
