"""Lead-quality ratings: the input model, the one-line form and the services."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from sqlalchemy.orm import Session

from bot.defaults import RATING_LABELS
from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.text import escape_mrkdwn, lead_key, slug, truncate
from bot.workspace import lead_feed_channel
from storage import queries
from storage.models import LeadRating, LeadSource, ReasonCode

LEAD_MAX = 200
CAMPAIGN_MAX = 150
NOTE_MAX = 1000
SOURCE_LABEL_MAX = 60
FEED_RATINGS = (1, 2)

QUICK_USAGE = (
    '`/leadfeedback <lead> <1-5> [reason …] ["note"]`\n'
    'e.g. `/leadfeedback ACME-4411 2 no-budget wrong-persona "only wanted pricing"`'
)


class LeadRatingInput(BaseModel):
    """What a rep says about a lead, from the modal or the one-line form, before codes are resolved."""

    model_config = ConfigDict(str_strip_whitespace=True)

    lead: str
    rating: int
    reasons: list[str] = []
    source_id: int | None = None
    source: str | None = None
    new_source: str | None = None
    campaign: str | None = None
    note: str | None = None

    @field_validator("lead", mode="before")
    @classmethod
    def _lead(cls, value: str | None) -> str:
        value = " ".join((value or "").split())
        if not value:
            raise ValueError("Say which lead: a CRM id, email, company or URL.")
        if len(value) > LEAD_MAX:
            raise ValueError(f"The lead reference is {len(value)} characters; keep it to {LEAD_MAX}.")
        return value

    @field_validator("rating", mode="before")
    @classmethod
    def _rating(cls, value: object) -> int:
        text = str(value if value is not None else "").strip().removesuffix("/5")
        if not re.fullmatch(r"[1-5]", text):
            shown = f"“{escape_mrkdwn(truncate(text, 20))}” isn't a rating. " if text else ""
            raise ValueError(f"{shown}Rate the lead from 1 (junk) to 5 (great fit).")
        return int(text)

    @field_validator("campaign", "note", "new_source", "source", mode="before")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if isinstance(value, str) else value

    @field_validator("campaign")
    @classmethod
    def _campaign(cls, value: str | None) -> str | None:
        return _at_most(value, CAMPAIGN_MAX, "The campaign")

    @field_validator("note")
    @classmethod
    def _note(cls, value: str | None) -> str | None:
        return _at_most(value, NOTE_MAX, "The note")

    @field_validator("new_source")
    @classmethod
    def _new_source(cls, value: str | None) -> str | None:
        return _at_most(value, SOURCE_LABEL_MAX, "A new source name")

    @classmethod
    def parse(cls, data: dict, *, usage: str | None = None) -> LeadRatingInput:
        """Validate, turning pydantic's errors into friendly per-field messages."""
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            fields: dict[str, str] = {}
            for item in error.errors():
                field = str(item["loc"][0]) if item["loc"] else "lead"
                fields.setdefault(field, item["msg"].removeprefix("Value error, "))
            raise InvalidInput(fields, usage=usage) from None


def _at_most(value: str | None, limit: int, what: str) -> str | None:
    if value is not None and len(value) > limit:
        raise ValueError(f"{what} is {len(value)} characters; keep it to {limit}.")
    return value


# --- the one-line form --------------------------------------------------------------------------

_TOKEN = re.compile(r'"(?P<quoted>[^"]*)"|(?P<bare>[^\s"]+)')


def parse_quick_rating(text: str) -> LeadRatingInput:
    """Parse `<lead> <1-5> [reason …] [source:x] ["note"]`; the lead may be quoted if it has spaces."""
    if text.count('"') % 2:
        raise InvalidInput({"note": "A quote is not closed: put the note between two double quotes."},
                           usage=QUICK_USAGE)
    tokens = [(m["quoted"], True) if m["quoted"] is not None else (m["bare"], False)
              for m in _TOKEN.finditer(text)]
    if len(tokens) < 2:
        raise InvalidInput({"rating": "Give the lead and a rating from 1 to 5."}, usage=QUICK_USAGE)
    (lead, _), (rating, _) = tokens[0], tokens[1]
    reasons, notes, source = [], [], None
    for token, quoted in tokens[2:]:
        if quoted:
            notes.append(token)
        elif token.casefold().startswith(("source:", "src:")):
            source = token.partition(":")[2]
        else:
            reasons.append(token)
    if len(notes) > 1:
        raise InvalidInput({"note": "Put the whole note inside one pair of double quotes."}, usage=QUICK_USAGE)
    return LeadRatingInput.parse(
        dict(lead=lead, rating=rating, reasons=reasons, source=source, note=notes[0] if notes else None),
        usage=QUICK_USAGE,
    )


# --- matching codes forgivingly -----------------------------------------------------------------


class CodeList:
    """Reason codes or sources, matched forgivingly: case, dashes and spaces, aliases, unique prefixes."""

    def __init__(self, items: Sequence[ReasonCode | LeadSource], *, what: str):
        self.items = list(items)
        self.what = what
        self._names = {item.id: {slug(item.code), slug(item.label), *map(slug, item.aliases)} for item in self.items}

    def resolve(self, typed: str) -> ReasonCode | LeadSource:
        wanted = slug(typed)
        shown = escape_mrkdwn(truncate(typed, 40))
        exact = [item for item in self.items if wanted in self._names[item.id]]
        if exact:
            return exact[0]
        prefixed = [item for item in self.items
                    if wanted and any(name.startswith(wanted) for name in self._names[item.id])]
        if len(prefixed) == 1:
            return prefixed[0]
        if prefixed:
            choices = ", ".join(f"`{item.code}`" for item in prefixed)
            raise ValueError(f"“{shown}” could be any of {choices}: type a little more of the one you mean.")
        raise ValueError(f"“{shown}” isn't a {self.what} here. Use one of: {self.codes()}.")

    def codes(self) -> str:
        return ", ".join(f"`{item.code}`" for item in self.items)


# --- services -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RatedLead:
    """A rating as people see it."""

    id: int
    lead_ref: str
    rating: int
    reasons: tuple[str, ...]
    source: str | None
    reason_codes: tuple[str, ...]
    source_id: int | None
    campaign: str | None
    note: str | None
    rater_user_id: str
    updated_at: datetime
    created: bool = False
    feed_post_queued: bool = False

    @property
    def rating_label(self) -> str:
        return RATING_LABELS[self.rating]

    @classmethod
    def of(cls, row: LeadRating, *, created: bool = False, feed_post_queued: bool = False) -> RatedLead:
        return cls(
            id=row.id, lead_ref=row.lead_ref, rating=row.rating,
            reasons=tuple(reason.label for reason in row.reasons),
            source=row.source.label if row.source else None,
            reason_codes=tuple(reason.code for reason in row.reasons), source_id=row.source_id,
            campaign=row.campaign, note=row.note,
            rater_user_id=row.rater_user_id, updated_at=row.updated_at, created=created,
            feed_post_queued=feed_post_queued,
        )


@dataclass(frozen=True)
class LeadFormOptions:
    """What the rating modal offers: the workspace's reason codes."""

    good_reasons: tuple[tuple[str, str], ...]
    bad_reasons: tuple[tuple[str, str], ...]


def lead_form_options(*, session: Session, team_id: str) -> LeadFormOptions:
    queries.ensure_workspace(session=session, team_id=team_id)
    reasons = queries.active_reasons(session=session, team_id=team_id)
    return LeadFormOptions(
        good_reasons=tuple((r.code, r.label) for r in reasons if r.polarity == "good"),
        bad_reasons=tuple((r.code, r.label) for r in reasons if r.polarity == "bad"),
    )


def workspace_codes(*, session: Session, team_id: str) -> tuple[str, str]:
    """The workspace's reason codes and source codes, listed for help text."""
    queries.ensure_workspace(session=session, team_id=team_id)
    reasons = CodeList(queries.active_reasons(session=session, team_id=team_id), what="reason code")
    sources = CodeList(queries.active_sources(session=session, team_id=team_id), what="source")
    return reasons.codes(), sources.codes()


def find_sources(*, session: Session, team_id: str, typed: str, limit: int = 20) -> list[tuple[int, str]]:
    """Sources for the modal's typeahead: (id, label) of those matching what was typed."""
    queries.ensure_workspace(session=session, team_id=team_id)
    sources = queries.search_sources(session=session, team_id=team_id, typed=typed.strip(), limit=limit)
    return [(source.id, source.label) for source in sources]


def rate_lead(
    *,
    session: Session,
    team_id: str,
    user_id: str,
    rating: LeadRatingInput,
    now: datetime,
    default_lead_feed_channel: str | None = None,
    rating_id: int | None = None,
) -> RatedLead:
    """Store the rep's current rating of a lead (or edit `rating_id`), and queue the lead-feed post.

    Rating the same lead again replaces the rep's earlier rating, so a retry or a double
    submit leaves one row.
    """
    queries.ensure_workspace(session=session, team_id=team_id)
    reason_ids, source_id = _resolve_codes(session=session, team_id=team_id, user_id=user_id, rating=rating)
    key = lead_key(rating.lead)
    values = dict(lead_ref=rating.lead, lead_key=key, rating=rating.rating, source_id=source_id,
                  campaign=rating.campaign, note=rating.note, reason_ids=reason_ids, now=now)
    same_lead = queries.rating_id_for_lead(session=session, team_id=team_id, rater_user_id=user_id, lead_key=key)
    if rating_id is None:
        rating_id = queries.upsert_lead_rating(
            session=session, team_id=team_id, rater_user_id=user_id, **values
        )
        created = same_lead is None
    else:
        existing = queries.lead_rating(session=session, team_id=team_id, rating_id=rating_id)
        if existing is None:
            raise NotFound("That rating no longer exists. Rate the lead again with `/leadfeedback`.")
        if existing.rater_user_id != user_id:
            raise NotAllowed("You can only edit your own ratings.")
        if same_lead not in (None, rating_id):
            raise InvalidInput({"lead": "You have already rated this lead: edit that rating instead "
                                        "(see `/leadfeedback mine`)."})
        queries.update_lead_rating(session=session, team_id=team_id, rating_id=rating_id, **values)
        created = False
    feed = lead_feed_channel(session=session, team_id=team_id, default=default_lead_feed_channel)
    queued = bool(feed) and _queue_lead_feed_post(
        session=session, team_id=team_id, rating_id=rating_id, rating=rating.rating, channel=feed, now=now,
    )
    row = queries.lead_rating(session=session, team_id=team_id, rating_id=rating_id)
    return RatedLead.of(row, created=created, feed_post_queued=queued)


def _resolve_codes(
    *, session: Session, team_id: str, user_id: str, rating: LeadRatingInput
) -> tuple[list[int], int | None]:
    errors: dict[str, str] = {}
    reasons = CodeList(queries.active_reasons(session=session, team_id=team_id), what="reason code")
    reason_rows: list[ReasonCode] = []
    for typed in rating.reasons:
        try:
            reason_rows.append(reasons.resolve(typed))
        except ValueError as problem:
            errors.setdefault("reasons", str(problem))
    if any(reason.requires_note for reason in reason_rows) and not rating.note:
        errors.setdefault("note", "You picked “other”: say why in the note.")
    source_id = rating.source_id
    if source_id is not None and not queries.source_by_id(session=session, team_id=team_id, source_id=source_id):
        errors["source"] = "That source no longer exists: pick another one."
    if rating.source:
        sources = CodeList(queries.active_sources(session=session, team_id=team_id), what="source")
        try:
            source_id = sources.resolve(rating.source).id
        except ValueError as problem:
            errors["source"] = str(problem)
    if rating.new_source and source_id is None:
        known = queries.source_by_code(session=session, team_id=team_id, code=slug(rating.new_source)[:40])
        if known is not None and known.retired_at is not None:
            errors["new_source"] = (f"“{escape_mrkdwn(known.label)}” was retired by an admin, so new ratings "
                                    "can't use it: pick another source.")
    if errors:
        raise InvalidInput(errors, usage=QUICK_USAGE)
    if rating.new_source and source_id is None:
        source_id = queries.add_source(session=session, team_id=team_id, code=slug(rating.new_source)[:40],
                                       label=rating.new_source, created_by=user_id)
    return [reason.id for reason in reason_rows], source_id


def _queue_lead_feed_post(
    *, session: Session, team_id: str, rating_id: int, rating: int, channel: str, now: datetime
) -> bool:
    # Bad leads are posted for marketing; a post already made is re-synced whenever the rating changes.
    key = f"lead-feed:{rating_id}"
    already = queries.outbox_message_for(session=session, team_id=team_id, dedupe_key=key)
    if rating not in FEED_RATINGS and already is None:
        return False
    queries.enqueue_outbox(session=session, team_id=team_id, kind="lead_feed", dedupe_key=key,
                           channel=channel, payload={"rating_id": rating_id}, now=now)
    return True


def rating_for_edit(*, session: Session, team_id: str, user_id: str, rating_id: int) -> RatedLead:
    """The rep's own rating, to prefill the edit modal."""
    row = queries.lead_rating(session=session, team_id=team_id, rating_id=rating_id)
    if row is None:
        raise NotFound("That rating no longer exists. Rate the lead again with `/leadfeedback`.")
    if row.rater_user_id != user_id:
        raise NotAllowed("You can only edit your own ratings.")
    return RatedLead.of(row)


def my_recent_ratings(*, session: Session, team_id: str, user_id: str, limit: int = 10) -> tuple[list[RatedLead], int]:
    """The rep's latest ratings, newest first, and how many they have in all."""
    rows = queries.recent_ratings(session=session, team_id=team_id, rater_user_id=user_id, limit=limit)
    total = queries.count_ratings(session=session, team_id=team_id, rater_user_id=user_id)
    return [RatedLead.of(row) for row in rows], total


def lead_rating_for_feed(*, session: Session, team_id: str, rating_id: int) -> RatedLead | None:
    row = queries.lead_rating(session=session, team_id=team_id, rating_id=rating_id)
    return RatedLead.of(row) if row else None
