"""Marketing's replies to feedback: who may reply, the reply itself, and what it tells the person who gave it.

A subject (a lead rating, a field-intel item) has one reply; replying again, by anyone, updates it. Each reply
updates the subject's post in place, tells the person who gave the feedback by DM (once per submitted modal:
the modal's view id keys the DM) and refreshes their Home, all in the transaction that stores it.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, field_validator
from sqlalchemy.orm import Session

from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.leads import FEED_KEY
from bot.results.replies import (
    LINK_MAX,
    NOTE_MAX,
    NOTE_REQUIRED,
    REPLY_STATUSES,
    ReplyDm,
    ReplyForm,
    ReplyShown,
    Subject,
    SubjectShown,
)
from bot.text import at_most, web_link
from storage import outbox
from storage import replies as store
from storage.outbox import Message, home_refresh
from storage.teams import admin_ids, workspace_config

REMOVED = ("This feedback was removed (its author's data was deleted, or it never existed), "
           "so there is nothing to reply to.")
INTEL_KEY = "intel:"  # the outbox key of a field-intel item's post, before its id
DM_KEY = "reply-dm:"  # the outbox key of a reply's DM, before the modal's view id


class ReplyInput(BaseModel):
    """What a marketer says back: the status, a note (required for some statuses) and a link to the change."""

    model_config = ConfigDict(str_strip_whitespace=True)

    status: str
    note: str | None = None
    link: str | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: str | None) -> str:
        if value not in REPLY_STATUSES:
            raise ValueError("Pick a status: " + ", ".join(REPLY_STATUSES.values()) + ".")
        return value

    @field_validator("note", mode="before")
    @classmethod
    def _note(cls, value: str | None) -> str | None:
        return at_most(value, NOTE_MAX, "The note")

    @field_validator("link", mode="before")
    @classmethod
    def _link(cls, value: str | None) -> str | None:
        return web_link(value, LINK_MAX, "The link to the change")

    def model_post_init(self, context) -> None:
        if self.status in NOTE_REQUIRED and not self.note:
            raise InvalidInput({"note": f"Add a note: “{REPLY_STATUSES[self.status]}” needs a line saying why "
                                        "or what you did."})


def require_replier(*, session: Session, team_id: str, user_id: str, configured_admins: frozenset[str]) -> None:
    """Marketing and admins reply to feedback; anyone may while no teams are set up."""
    marketing = store.marketing_ids(session=session, team_id=team_id)
    if not marketing and not store.has_teams(session=session, team_id=team_id):
        return
    admins = set(admin_ids(session=session, team_id=team_id)) | configured_admins
    if user_id in marketing or user_id in admins:
        return
    who = ", ".join(f"<@{user}>" for user in sorted(set(marketing) | admins)[:10]) or "nobody yet"
    raise NotAllowed("Only the marketing team and Crossfeed admins can reply to feedback "
                     f"({who}). An admin can add you with `/alignment team add @you marketing`.")


def _subject_shown(session: Session, team_id: str, subject: Subject) -> SubjectShown | None:
    row = store.subject_row(session=session, team_id=team_id, kind=subject.kind, subject_id=subject.id)
    return SubjectShown(subject=subject, author_user_id=row.author_user_id, given_at=row.given_at, title=row.title,
                        rating=row.rating, intel_kind=row.intel_kind) if row else None


def _subject(session: Session, team_id: str, subject: Subject) -> SubjectShown:
    shown = _subject_shown(session, team_id, subject)
    if shown is None:
        raise NotFound(REMOVED)
    return shown


def current_reply(*, session: Session, team_id: str, subject: Subject) -> ReplyShown | None:
    """The subject's reply as its post shows it, or None before anyone replied."""
    row = store.reply_of(session=session, team_id=team_id, kind=subject.kind, subject_id=subject.id)
    return ReplyShown(status=row.status, replied_by=row.replied_by, replied_at=row.replied_at, note=row.note,
                      link=row.link) if row else None


def reply_form(*, session: Session, team_id: str, user_id: str, subject: Subject | None, status: str,
               configured_admins: frozenset[str]) -> ReplyForm:
    """What the reply modal opens with, for someone allowed to reply to a subject that still exists."""
    require_replier(session=session, team_id=team_id, user_id=user_id, configured_admins=configured_admins)
    if subject is None:
        raise NotFound(REMOVED)
    return ReplyForm(subject=_subject(session, team_id, subject), status=status if status in REPLY_STATUSES
                     else "replied", current=current_reply(session=session, team_id=team_id, subject=subject))


def reply_to_feedback(*, session: Session, team_id: str, user_id: str, subject: Subject | None, reply: ReplyInput,
                      submission_key: str, now: datetime, configured_admins: frozenset[str],
                      default_feed_channel: str | None = None) -> ReplyShown:
    """Store the subject's reply, and queue its post's update, the DM to whoever gave it and their Home.

    A submission seen before (a Slack retry, a re-submitted modal: same view id) changes nothing and sends
    nothing again.
    """
    require_replier(session=session, team_id=team_id, user_id=user_id, configured_admins=configured_admins)
    if subject is None:
        raise NotFound(REMOVED)
    about = _subject(session, team_id, subject)
    shown = ReplyShown(status=reply.status, replied_by=user_id, replied_at=now, note=reply.note, link=reply.link)
    dm = Message(kind="reply_dm", dedupe_key=f"{DM_KEY}{submission_key}", channel=about.author_user_id,
                 payload={"subject": subject.to_value(), "status": reply.status, "note": reply.note,
                          "link": reply.link, "replied_by": user_id, "replied_at": now.isoformat()})
    if not outbox.enqueue_once(session=session, team_id=team_id, message=dm, now=now):
        return current_reply(session=session, team_id=team_id, subject=subject) or shown
    store.save_reply(session=session, team_id=team_id, kind=subject.kind, subject_id=subject.id, status=reply.status,
                     note=reply.note, link=reply.link, replied_by=user_id, subject_at=about.given_at, now=now)
    post = _post_of(session, team_id, subject, default_feed_channel)
    outbox.enqueue(session=session, team_id=team_id, now=now,
                   messages=[*([post] if post else []), home_refresh(about.author_user_id)])
    return shown


def _post_of(session: Session, team_id: str, subject: Subject, default_feed_channel: str | None, *,
             posted_only: bool = False) -> Message | None:
    """The subject's post, queued again so it shows the reply in place (the outbox updates it by its ts).

    A rating's post is its lead_feed message; a field-intel item's is its `intel_post` (queued here if the
    item was never posted, to the lead-feed channel where marketing reads feedback).
    """
    key = f"{FEED_KEY if subject.kind == 'rating' else INTEL_KEY}{subject.id}"
    posted = outbox.outbox_message_for(session=session, team_id=team_id, dedupe_key=key)
    if posted is not None:
        return Message(kind=posted.kind, dedupe_key=key, channel=posted.channel, payload=posted.payload)
    channel = workspace_config(session=session, team_id=team_id).lead_feed_channel or default_feed_channel
    if subject.kind == "rating" or posted_only or not channel:
        return None  # a rating that was never posted has no post to show the reply on
    return Message(kind="intel_post", dedupe_key=key, channel=channel, payload={"intel_id": subject.id})


def reply_dm(*, session: Session, team_id: str, payload: dict) -> ReplyDm | None:
    """The DM a queued reply sends, or None when its subject was removed since (nothing to tell)."""
    subject = Subject.from_value(payload.get("subject"))
    shown = _subject_shown(session, team_id, subject) if subject else None
    if shown is None:
        return None
    return ReplyDm(
        subject=shown,
        reply=ReplyShown(status=payload["status"], replied_by=payload["replied_by"],
                         replied_at=datetime.fromisoformat(payload["replied_at"]), note=payload.get("note"),
                         link=payload.get("link")),
    )


def forget_replies(*, session: Session, team_id: str, user_id: str, now: datetime) -> int:
    """Delete the replies to someone's feedback and the replies they wrote (`/alignment forget`); the posts
    that showed a reply of theirs are updated without it. Returns how many replies went."""
    deleted, shown_on = store.delete_replies_of(session=session, team_id=team_id, user_id=user_id)
    posts = [post for kind, subject_id in shown_on
             if (post := _post_of(session, team_id, Subject(kind, subject_id), None, posted_only=True)) is not None]
    outbox.enqueue(session=session, team_id=team_id, messages=posts, now=now)
    return deleted
