"""Messaging feedback: marketers ask how a message landed; reps answer; the asker gets the evidence."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, field_validator
from sqlalchemy.orm import Session

from bot.errors import CrossfeedError, InvalidInput, NotAllowed, NotFound
from bot.follow_up import workspace_calendar
from bot.people import held_for_working_time, people_times
from bot.results import record_id
from bot.results.messaging import (
    CHANGE_MAX,
    DEFAULT_DAYS,
    DESCRIPTION_MAX,
    LINK_MAX,
    MAX_DAYS,
    NAME_MAX,
    REACTIONS,
    VERSIONS_OFFERED,
    AnswerForm,
    AnswerInput,
    AskChange,
    AskResults,
    AskSent,
    AskVersion,
    AskView,
    ChangeForm,
    ChangePosted,
    RepAnswer,
    VersionComparison,
)
from bot.text import at_most, escape_mrkdwn, web_address
from bot.zones import workspace_zone
from storage import messaging as store
from storage import outbox, queries
from storage import teams as team_store
from storage.models import MessagingAsk
from storage.outbox import Message, home_refresh

if TYPE_CHECKING:
    from bot.container import ClientFor


class AskClosed(CrossfeedError):
    pass


class AskInput(BaseModel):
    """What a marketer asks about, and whom."""

    model_config = ConfigDict(str_strip_whitespace=True)

    name: str
    link: str | None = None
    description: str | None = None
    channel_id: str | None = None
    user_ids: list[str] = []
    usergroup_id: str | None = None
    days: int | None = None  # None: the workspace's setting (`ask_open_days`, 14 days unless an admin changed it)
    previous_ask_id: int | None = None  # "New version of": the ask about the earlier version

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: str | None) -> str:
        value = " ".join((value or "").split())
        if not value:
            raise ValueError("Name what you're asking about, e.g. “Q4 ROI talk track”.")
        return at_most(value, NAME_MAX, "The name")

    @field_validator("link", mode="before")
    @classmethod
    def _link(cls, value: str | None) -> str | None:
        return web_address(value, LINK_MAX, "The link")

    @field_validator("previous_ask_id", mode="before")
    @classmethod
    def _previous(cls, value: object) -> int | None:
        text = str(value or "").strip()
        if text and not text.isdigit():
            raise ValueError("Pick the earlier ask from the list.")
        return int(text) if text else None

    @field_validator("description", mode="before")
    @classmethod
    def _description(cls, value: str | None) -> str | None:
        return at_most(value, DESCRIPTION_MAX, "The description")

    @field_validator("days", mode="before")
    @classmethod
    def _days(cls, value: object) -> int | None:
        text = str(value if value is not None else "").strip()
        if not text:
            return None
        if not text.isdigit() or not 1 <= int(text) <= MAX_DAYS:
            raise ValueError(f"Keep the ask open between 1 and {MAX_DAYS} days.")
        return int(text)


class ChangeInput(BaseModel):
    """"What we changed" after an ask: what changed (required) and a link to the new version (optional)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    note: str
    link: str | None = None

    @field_validator("note", mode="before")
    @classmethod
    def _note(cls, value: str | None) -> str:
        value = at_most(value, CHANGE_MAX, "What changed")
        if not value:
            raise ValueError("Say what you changed, e.g. “Led with the 6-month payback, cut the pricing slide”.")
        return value

    @field_validator("link", mode="before")
    @classmethod
    def _link(cls, value: str | None) -> str | None:
        return web_address(value, LINK_MAX)


def view_of(ask: MessagingAsk, tally: dict[str, int], now: datetime) -> AskView:
    return AskView(
        id=ask.id, name=ask.name, link=ask.link, description=ask.description, asker_user_id=ask.asker_user_id,
        audience=ask.audience, channel_id=ask.channel_id, closes_at=ask.closes_at,
        closed=ask.closed_at is not None or ask.closes_at <= now, tally=tally,
    )


def ask_view(*, session: Session, team_id: str, ask_id: int, now: datetime) -> AskView | None:
    ask = store.ask(session=session, team_id=team_id, ask_id=ask_id)
    if ask is None:
        return None
    return view_of(ask, store.tallies(session=session, ask_ids=[ask.id])[ask.id], now)


def submit_ask(*, session: Session, team_id: str, user_id: str, ask: AskInput, submission_key: str,
               now: datetime) -> AskSent | None:
    """Store the ask and queue its cards when whom it goes to is known now: a channel, or the people picked.

    None for a DM ask that names a user group: reading the group is a Slack call, so the listener answers
    first and stores it after, with `group_ask_recipients` and `create_ask`."""
    if ask.usergroup_id and not ask.channel_id:
        return None
    return create_ask(session=session, team_id=team_id, user_id=user_id, ask=ask, recipients=list(ask.user_ids),
                      submission_key=submission_key, now=now)


def group_ask_recipients(client_for: ClientFor, *, team_id: str, ask: AskInput) -> list[str]:
    """The people picked and the members of the user group picked, once each (a Slack call: after the ack)."""
    members = client_for(team_id).usergroups_users_list(usergroup=ask.usergroup_id)["users"]
    return list(dict.fromkeys([*ask.user_ids, *members]))


def create_ask(*, session: Session, team_id: str, user_id: str, ask: AskInput, recipients: list[str],
               submission_key: str, now: datetime) -> AskSent:
    """Store the ask and queue its card: in the channel, or as a DM to each recipient in the sales team."""
    if not ask.channel_id and not recipients:
        raise InvalidInput({"channel_id": "Pick a channel to post in, or people or a user group to DM."})
    queries.ensure_workspace(session=session, team_id=team_id)
    if ask.previous_ask_id and store.ask(session=session, team_id=team_id, ask_id=ask.previous_ask_id) is None:
        raise InvalidInput({"previous_ask_id": "That earlier ask no longer exists; pick another or leave it empty."})
    days = ask.days or ask_open_days(session=session, team_id=team_id)
    audience = "channel" if ask.channel_id else "dm"
    picked = [] if ask.channel_id else list(dict.fromkeys(recipients))
    sales = store.sales_team_among(session=session, team_id=team_id, user_ids=picked)
    if picked and not sales:
        field = "user_ids" if ask.user_ids else "usergroup_id"
        raise InvalidInput({field: "Nobody you picked is in the sales team, and asks go to sales. Pick reps, or "
                                   "ask an admin to add them: `/alignment team add @name sales`."})
    ask_id, created = store.create_ask(
        session=session, team_id=team_id, submission_key=submission_key, asker_user_id=user_id,
        asker_side=store.side_of(session=session, team_id=team_id, user_id=user_id), name=ask.name, link=ask.link,
        description=ask.description, audience=audience, channel_id=ask.channel_id,
        recipients=sales, opened_at=now, closes_at=now + timedelta(days=days),
        remind_at=_remind_at(session=session, team_id=team_id, opened_at=now, days=days),
        previous_ask_id=ask.previous_ask_id,
    )
    cards = _cards(ask_id, ask.channel_id, sales) if created else []
    outbox.enqueue(session=session, team_id=team_id, messages=[*cards, home_refresh(user_id)], now=now)
    return AskSent(ask=ask_view(session=session, team_id=team_id, ask_id=ask_id, now=now),
                   recipients=tuple(sales), left_out=tuple(p for p in picked if p not in sales))


def ask_open_days(*, session: Session, team_id: str) -> int:
    """How long an ask stays open when the asker doesn't say: the workspace's setting (admins change it in setup)."""
    return team_store.workspace_config(session=session, team_id=team_id).ask_open_days or DEFAULT_DAYS


def _remind_at(*, session: Session, team_id: str, opened_at: datetime, days: int) -> datetime | None:
    """When the one reminder goes out: the workspace's hours after opening, if that is before the ask closes.

    Fixed when the ask opens, so a change to the setting applies to asks opened after it."""
    hours = team_store.workspace_config(session=session, team_id=team_id).ask_reminder_hours
    remind_at = opened_at + timedelta(hours=hours)
    return remind_at if remind_at < opened_at + timedelta(days=days) else None


def _open_ask(*, session: Session, team_id: str, user_id: str, ask_id: int, now: datetime) -> AskView:
    """The ask this person is about to answer: it must exist, be open, and be for them (the sales team)."""
    view = ask_view(session=session, team_id=team_id, ask_id=ask_id, now=now)
    if view is None:
        raise NotFound("This ask no longer exists, so there is nothing to answer.")
    if view.closed:
        raise AskClosed(f"“{escape_mrkdwn(view.name)}” has closed, so your answer wasn't recorded. "
                        "Thanks all the same!")
    # Refused rather than stored and hidden: nobody is thanked for an answer that silently doesn't count.
    if not store.in_sales_team(session=session, team_id=team_id, user_id=user_id):
        raise NotAllowed(f"“{escape_mrkdwn(view.name)}” is for the sales team: only reps' answers count, so yours "
                         "can't be recorded. If you're in sales, ask an admin to add you: "
                         "`/alignment team add @you sales`.")
    return view


def answer_form(*, session: Session, team_id: str, user_id: str, ask_id: int, reaction: str,
                now: datetime) -> AnswerForm:
    """What the answer modal opens with: the clicked reaction, and the rep's earlier answer if any."""
    view = _open_ask(session=session, team_id=team_id, user_id=user_id, ask_id=ask_id, now=now)
    if reaction not in REACTIONS:
        raise InvalidInput({"reaction": "That button is from an old version of this card."})
    earlier = store.answer_of(session=session, ask_id=ask_id, rep_user_id=user_id)
    previous = None
    if earlier:
        places = store.usage_of(session=session, answer_ids=[earlier.id])[earlier.id]
        previous = AnswerInput(reaction=earlier.reaction, used_in=places, stage=earlier.buyer_stage,
                               quote=earlier.buyer_quote, suggestion=earlier.suggestion)
    return AnswerForm(ask=view, reaction=reaction, previous=previous)


def record_answer(*, session: Session, team_id: str, user_id: str, ask_id: int, answer: AnswerInput,
                  now: datetime) -> AskView:
    """Store (or change) the rep's one answer, and re-sync the channel card's tally."""
    view = _open_ask(session=session, team_id=team_id, user_id=user_id, ask_id=ask_id, now=now)
    if answer.reaction != "not_used" and not answer.used_in:
        raise InvalidInput({"used_in": "Say where you used it (email, call, demo, …)."})
    store.save_answer(session=session, team_id=team_id, ask_id=ask_id, rep_user_id=user_id,
                      used_in=[] if answer.reaction == "not_used" else answer.used_in, now=now,
                      reaction=answer.reaction, buyer_stage=answer.stage, buyer_quote=answer.quote,
                      suggestion=answer.suggestion)
    cards = _cards(view.id, view.channel_id) if view.audience == "channel" else []  # re-synced: the new tally
    outbox.enqueue(session=session, team_id=team_id, messages=[*cards, home_refresh(user_id)], now=now)
    return ask_view(session=session, team_id=team_id, ask_id=ask_id, now=now)


def _cards(ask_id: int, channel_id: str | None, recipients: Iterable[str] = ()) -> list[Message]:
    """An ask's card in its channel and in each recipient's DM; queued again under the same keys, the posted
    cards are re-synced in place (the outbox kept their ts), to a new tally or to closed."""
    in_channel = [Message(kind="messaging_card", dedupe_key=f"ask-card:{ask_id}", channel=channel_id,
                          payload={"ask_id": ask_id})] if channel_id else []
    return in_channel + [Message(kind="messaging_dm", dedupe_key=f"ask-dm:{ask_id}:{recipient}", channel=recipient,
                                 payload={"ask_id": ask_id}) for recipient in recipients]


def open_asks(*, session: Session, team_id: str, now: datetime, limit: int = 20) -> list[AskView]:
    asks = store.open_asks(session=session, team_id=team_id, now=now, limit=limit)
    tallies = store.tallies(session=session, ask_ids=[a.id for a in asks])
    return [view_of(a, tallies[a.id], now) for a in asks]


def asks_of(*, session: Session, team_id: str, user_id: str, now: datetime, limit: int = 20) -> list[AskView]:
    asks = store.asks_by(session=session, team_id=team_id, asker_user_id=user_id, limit=limit)
    tallies = store.tallies(session=session, ask_ids=[a.id for a in asks])
    return [view_of(a, tallies[a.id], now) for a in asks]


def _results(*, session: Session, ask: MessagingAsk, now: datetime, named: bool = True,
             may_post_change: bool = False) -> AskResults:
    view = view_of(ask, store.tallies(session=session, ask_ids=[ask.id])[ask.id], now)
    rows = store.answers(session=session, ask_id=ask.id)
    places = store.usage_of(session=session, answer_ids=[row.id for row in rows])
    answers = tuple(RepAnswer(rep_user_id=r.rep_user_id, reaction=r.reaction, used_in=tuple(places[r.id]),
                              stage=r.buyer_stage, quote=r.buyer_quote, suggestion=r.suggestion) for r in rows)
    return AskResults(ask=view, answers=answers, usage=store.usage_counts(session=session, ask_id=ask.id),
                      named=named, versions=version_comparison(session=session, team_id=ask.team_id, ask=ask),
                      change=_change_of(ask), may_post_change=may_post_change)


def _reads_every_ask(*, session: Session, team_id: str, user_id: str, configured_admins: frozenset[str]) -> bool:
    """Leaders and admins may read any ask's results, without names."""
    config = team_store.workspace_config(session=session, team_id=team_id)
    admins = set(team_store.admin_ids(session=session, team_id=team_id)) | configured_admins
    return user_id in (config.leader_user_ids or []) or user_id in admins


def ask_results(*, session: Session, team_id: str, user_id: str, which: str, now: datetime,
                configured_admins: frozenset[str] = frozenset()) -> AskResults:
    """`/messaging results <ask>`: every answer, with names for the person who asked, without for leaders and
    admins."""
    typed = which.strip().lstrip("#")
    if typed.isdigit():
        ask_id = record_id(typed)  # a number past any id names no ask
        ask = store.ask(session=session, team_id=team_id, ask_id=ask_id) if ask_id else None
        candidates = [ask] if ask else []
    else:
        candidates = list(store.asks_named(session=session, team_id=team_id, typed=typed))
    if not candidates:
        raise NotFound(f"I couldn't find an ask matching “{escape_mrkdwn(typed[:60])}”. "
                       "`/messaging results` lists yours.")
    mine = [a for a in candidates if a.asker_user_id == user_id]
    if mine:
        readable, whose = mine, "your asks"
    elif _reads_every_ask(session=session, team_id=team_id, user_id=user_id, configured_admins=configured_admins):
        readable, whose = candidates, "the asks"
    else:
        raise NotAllowed("Only the person who asked can see the answers with names; leaders and admins see them "
                         "without names. `/messaging results` lists your own asks.")
    if len(readable) > 1 and not typed.isdigit():
        listed = ", ".join(f"#{a.id} {escape_mrkdwn(a.name)}" for a in readable[:5])
        raise InvalidInput({"ask": f"More than one of {whose} matches: {listed}. Use its number, e.g. "
                                   f"`/messaging results #{readable[0].id}`."})
    ask = readable[0]
    may_post_change = _may_post_change(session=session, team_id=team_id, user_id=user_id, ask=ask,
                                       configured_admins=configured_admins)
    return _results(session=session, ask=ask, now=now, named=bool(mine), may_post_change=may_post_change)


def close_due_asks(*, session: Session, now: datetime) -> int:
    """Close every ask whose time is up: queue the asker's summary and the card's closed state, once."""
    closed = 0
    for ask in store.asks_due_to_close(session=session, now=now):
        if not store.claim_close(session=session, ask_id=ask.id, now=now):
            continue
        summary = Message(kind="messaging_summary", dedupe_key=f"ask-summary:{ask.id}", channel=ask.asker_user_id,
                          payload={"ask_id": ask.id})
        cards = _cards(ask.id, ask.channel_id if ask.audience == "channel" else None, ask.recipients)
        reminders = _reminders(ask.id, store.reminded_reps(session=session, team_id=ask.team_id, ask_id=ask.id))
        outbox.enqueue(session=session, team_id=ask.team_id, now=now, messages=[
            summary, *cards, *reminders, home_refresh(ask.asker_user_id),  # the ask leaves their open asks
        ])
        closed += 1
    return closed


def ask_summary(*, session: Session, team_id: str, ask_id: int, now: datetime) -> AskResults | None:
    """The closed ask's evidence, for the asker's summary DM."""
    ask = store.ask(session=session, team_id=team_id, ask_id=ask_id)
    return _results(session=session, ask=ask, now=now, may_post_change=True) if ask else None


# --- the loop closes: one reminder, "what we changed", versions ---------------------------------------


def queue_due_ask_reminders(*, session: Session, now: datetime, default_zone: str | None = None) -> int:
    """Queue one reminder DM to each rep who should answer an open ask and hasn't and isn't away, once per ask
    (claimed); each rep's is held until their own working time (a rep asleep in another zone gets it when their
    day starts)."""
    queued = 0
    for ask in store.asks_due_for_reminders(session=session, now=now):
        if not store.claim_reminders(session=session, ask_id=ask.id):
            continue  # another clock took it
        calendar = workspace_calendar(team_store.workspace_config(session=session, team_id=ask.team_id), default_zone)
        reps = store.reps_yet_to_answer(session=session, ask=ask)
        # Someone away (time off, or a Slack status that says so) isn't nudged; the ask stays on their Home.
        times = people_times(session=session, team_id=ask.team_id, user_ids=reps, default_zone=calendar.zone)
        reminders = held_for_working_time(_reminders(ask.id, (rep for rep in reps if not times[rep].is_away(now))),
                                          session=session, team_id=ask.team_id, calendar=calendar, now=now)
        outbox.enqueue(session=session, team_id=ask.team_id, messages=reminders, now=now)
        queued += len(reminders)
    return queued


def _reminders(ask_id: int, reps: Iterable[str]) -> list[Message]:
    """The reminder DM to each rep; queued again under the same keys when the ask closes, the reminders posted
    are re-synced in place to the closed card (no buttons)."""
    return [Message(kind="messaging_reminder", dedupe_key=f"ask-reminder:{ask_id}:{user_id}", channel=user_id,
                    payload={"ask_id": ask_id, "user_id": user_id}) for user_id in reps]


def reminder_view(*, session: Session, team_id: str, ask_id: int, user_id: str, now: datetime,
                  posted: bool = False) -> AskView | None:
    """The ask a reminder shows. Not yet posted: None if it closed or the rep answered since it was queued
    (never remind those who answered). Posted: the ask as it is now, to re-sync the reminder in place."""
    view = ask_view(session=session, team_id=team_id, ask_id=ask_id, now=now)
    if view is None or posted:
        return view
    if view.closed or store.has_answered(session=session, ask_id=ask_id, user_id=user_id):
        return None
    # A reminder held for the rep's working time may come due after they went away: not nudged then either.
    # (Someone with no known zone is read in the workspace's; WORKSPACE_TIMEZONE isn't known here.)
    zone = workspace_zone(team_store.workspace_config(session=session, team_id=team_id), None)
    if people_times(session=session, team_id=team_id, user_ids=[user_id], default_zone=zone)[user_id].is_away(now):
        return None
    return view


MAX_VERSIONS = 50  # how far back a chain of "New version of" links is followed


def _version_chain(*, session: Session, team_id: str, ask: MessagingAsk) -> list[MessagingAsk]:
    """The ask and the earlier versions it follows, newest first (a loop in the links ends the chain)."""
    chain, seen = [ask], {ask.id}
    while (previous_id := chain[-1].previous_ask_id) and previous_id not in seen and len(chain) < MAX_VERSIONS:
        previous = store.ask(session=session, team_id=team_id, ask_id=previous_id)
        if previous is None:
            break
        chain.append(previous)
        seen.add(previous.id)
    return chain


def version_comparison(*, session: Session, team_id: str, ask: MessagingAsk) -> VersionComparison | None:
    """This ask's resonance beside the version before it, numbered from the first (v1, v2, …)."""
    chain = _version_chain(session=session, team_id=team_id, ask=ask)
    if len(chain) < 2:
        return None
    this, earlier = chain[0], chain[1]
    tallies = store.tallies(session=session, ask_ids=[this.id, earlier.id])

    def version(of: MessagingAsk, number: int) -> AskVersion:
        view = view_of(of, tallies[of.id], of.closes_at)
        return AskVersion(number=number, ask_id=of.id, name=of.name, answered=view.answered,
                          resonance=view.resonance_rate)

    return VersionComparison(this=version(this, len(chain)), earlier=version(earlier, len(chain) - 1))


def version_choices(*, session: Session, team_id: str) -> list[tuple[int, str]]:
    """The ask modal's "New version of" choices: the workspace's recent asks, newest first."""
    return store.recent_asks(session=session, team_id=team_id, limit=VERSIONS_OFFERED)


def _may_post_change(*, session: Session, team_id: str, user_id: str, ask: MessagingAsk,
                     configured_admins: frozenset[str]) -> bool:
    admins = set(team_store.admin_ids(session=session, team_id=team_id)) | configured_admins
    return user_id == ask.asker_user_id or user_id in admins


def _ask_for_change(*, session: Session, team_id: str, user_id: str, ask_id: int,
                    configured_admins: frozenset[str]) -> MessagingAsk:
    ask = store.ask(session=session, team_id=team_id, ask_id=ask_id)
    if ask is None:
        raise NotFound("This ask no longer exists, so there is nobody to tell what changed.")
    if not _may_post_change(session=session, team_id=team_id, user_id=user_id, ask=ask,
                            configured_admins=configured_admins):
        raise NotAllowed(f"Only <@{ask.asker_user_id}>, who asked about “{escape_mrkdwn(ask.name)}”, or an admin "
                         "can post what changed.")
    return ask


def change_form(*, session: Session, team_id: str, user_id: str, ask_id: int,
                configured_admins: frozenset[str] = frozenset()) -> ChangeForm:
    """What the "what we changed" modal opens with (the text posted earlier, to edit)."""
    ask = _ask_for_change(session=session, team_id=team_id, user_id=user_id, ask_id=ask_id,
                          configured_admins=configured_admins)
    return ChangeForm(ask_id=ask.id, ask_name=ask.name, note=ask.change_note, link=ask.change_link,
                      answerers=len(store.answerers(session=session, ask_id=ask.id)))


def post_change(*, session: Session, team_id: str, user_id: str, ask_id: int, change: ChangeInput, now: datetime,
                configured_admins: frozenset[str] = frozenset()) -> ChangePosted:
    """Store "what we changed" on the ask and queue it to every rep who answered, once each.

    The first submission sends it. A later edit stores the new text and updates the DMs already sent in place
    (the same outbox keys: chat.update, no second notification); a rep who answered since gets it afresh.
    The same text again (a retried or double submission) changes and sends nothing."""
    ask = _ask_for_change(session=session, team_id=team_id, user_id=user_id, ask_id=ask_id,
                          configured_admins=configured_admins)
    edited = ask.change_note is not None
    reps = store.answerers(session=session, ask_id=ask.id)
    if not store.save_change(session=session, ask_id=ask.id, note=change.note, link=change.link, now=now):
        return ChangePosted(ask_name=ask.name, sent_to=len(reps), edited=edited, unchanged=True)
    outbox.enqueue(session=session, team_id=team_id, now=now, messages=[
        *(Message(kind="messaging_change", dedupe_key=f"ask-change:{ask.id}:{rep}", channel=rep,
                  payload={"ask_id": ask.id}) for rep in reps),
        *(home_refresh(rep) for rep in reps)])  # their Home shows what their answers led to
    return ChangePosted(ask_name=ask.name, sent_to=len(reps), edited=edited)


def ask_change(*, session: Session, team_id: str, ask_id: int) -> AskChange | None:
    """The ask's "what we changed", as the reps who answered read it; None if there is none (or no ask)."""
    ask = store.ask(session=session, team_id=team_id, ask_id=ask_id)
    return _change_of(ask) if ask else None


def _change_of(ask: MessagingAsk) -> AskChange | None:
    if not ask.change_note:
        return None
    return AskChange(ask_id=ask.id, ask_name=ask.name, asker_user_id=ask.asker_user_id, note=ask.change_note,
                     link=ask.change_link)
