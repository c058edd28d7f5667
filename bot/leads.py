"""Lead-quality ratings: the input model, the one-line form and the services."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from sqlalchemy.orm import Session

from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.follow_up_stats import qualified_lead_definition
from bot.results.leads import (
    CAMPAIGN_MAX,
    LEAD_MAX,
    NOTE_MAX,
    QUICK_USAGE,
    SOURCE_LABEL_MAX,
    LeadFormOptions,
    RatedLead,
)
from bot.text import at_most, escape_mrkdwn, lead_key, slug, truncate
from storage import outbox, queries
from storage import typed_sources as typed_store
from storage.outbox import Message, home_refresh
from storage.queries import Code, HeldRating, RatingRow, RatingWorkspace
from storage.typed_sources import Moved

FEED_RATINGS = (1, 2)
FEED_KEY = "lead-feed:"  # the outbox key of a rating's lead-feed post, before its id
OTHER_SOURCE = "other"  # where a typed source that isn't one of the workspace's is counted


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
        return at_most(value, CAMPAIGN_MAX, "The campaign")

    @field_validator("note")
    @classmethod
    def _note(cls, value: str | None) -> str | None:
        return at_most(value, NOTE_MAX, "The note")

    @field_validator("new_source", "source")
    @classmethod
    def _typed_source(cls, value: str | None) -> str | None:
        value = " ".join(value.split()) if value else value
        return at_most(value, SOURCE_LABEL_MAX, "A source name")

    @property
    def typed_source(self) -> str | None:
        """A source given as text (one-line `source:x`, or a new one typed in the modal), to be matched."""
        return self.source or self.new_source

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


# --- the one-line form --------------------------------------------------------------------------

# `source:x`, `campaign:x`, either with a quoted value (`campaign:"Q4 ROI webinar"`), a quoted note, or a word.
_TOKEN = re.compile(
    r'(?P<key>(?i:source|src|campaign)):(?:"(?P<keyed_quoted>[^"]*)"|(?P<keyed>[^\s"]*))'
    r'|"(?P<quoted>[^"]*)"|(?P<bare>[^\s"]+)'
)
_KEYS = {"source": "source", "src": "source", "campaign": "campaign"}
_RATING = re.compile(r"[1-5](/5)?")


def parse_quick_rating(text: str) -> LeadRatingInput:
    """Parse `<lead> <1-5> [reason …] [source:x] [campaign:x] ["note"]`; quote a lead that has spaces."""
    if text.count('"') % 2:
        raise InvalidInput({"note": "A quote is not closed: put the note between two double quotes."},
                           usage=QUICK_USAGE)
    tokens = list(_TOKEN.finditer(text))
    if len(tokens) < 2 or tokens[0]["key"] or tokens[1]["key"]:
        raise InvalidInput({"rating": "Give the lead and a rating from 1 to 5."}, usage=QUICK_USAGE)
    lead, rating = (token["quoted"] if token["quoted"] is not None else token["bare"] for token in tokens[:2])
    if tokens[0]["bare"] is not None and tokens[1]["bare"] is not None:
        _hint_to_quote_a_lead_with_spaces(text, tokens)
    reasons, notes, keyed = [], [], {}
    for token in tokens[2:]:
        if token["key"]:
            value = token["keyed_quoted"] if token["keyed_quoted"] is not None else token["keyed"]
            keyed[_KEYS[token["key"].casefold()]] = value
        elif token["quoted"] is not None:
            notes.append(token["quoted"])
        else:
            reasons.append(token["bare"])
    if len(notes) > 1:
        raise InvalidInput({"note": "Put the whole note inside one pair of double quotes."}, usage=QUICK_USAGE)
    return LeadRatingInput.parse(
        dict(lead=lead, rating=rating, reasons=reasons, note=notes[0] if notes else None, **keyed),
        usage=QUICK_USAGE,
    )


def _hint_to_quote_a_lead_with_spaces(text: str, tokens: list[re.Match[str]]) -> None:
    """`Acme Corp 2 no-budget`: the rating is not the second word but a later one, so the lead has spaces."""
    if _RATING.fullmatch(tokens[1]["bare"]):
        return
    words = 1
    while words < len(tokens) and tokens[words]["bare"] is not None:
        if _RATING.fullmatch(tokens[words]["bare"]):
            lead = " ".join(token["bare"] for token in tokens[:words])
            rest = text[tokens[words].start():]
            example = escape_mrkdwn(truncate(f'"{lead}" {rest}', 200))
            raise InvalidInput({"lead": f"“{escape_mrkdwn(truncate(tokens[1]['bare'], 20))}” isn't a rating. "
                                        f"If the lead is “{escape_mrkdwn(truncate(lead, 60))}”, quote it: "
                                        f"`/leadfeedback {example}`"}, usage=QUICK_USAGE)
        words += 1


# --- matching codes forgivingly -----------------------------------------------------------------


class CodeList:
    """Reason codes or sources, matched forgivingly: case, dashes and spaces, plurals, aliases, unique prefixes."""

    def __init__(self, items: Sequence[Code], *, what: str):
        self.items = list(items)
        self.what = what
        self._names = {item.id: {slug(item.code), slug(item.label), *map(slug, item.aliases)} for item in self.items}

    def find(self, typed: str, *, prefixes: bool = True) -> Code | None:
        """The one item meant by `typed`, or None; ValueError when a prefix fits several."""
        wanted = slug(typed)
        # "webinars" means webinar, "demo-requests" demo-request.
        singulars = [wanted, *(wanted.removesuffix(end) for end in ("s", "es") if wanted.endswith(end))]
        for name in filter(None, singulars):
            exact = [item for item in self.items if name in self._names[item.id]]
            if exact:
                return exact[0]
        if not prefixes or not wanted:
            return None
        prefixed = [item for item in self.items if any(name.startswith(wanted) for name in self._names[item.id])]
        if len(prefixed) > 1:
            choices = ", ".join(f"`{item.code}`" for item in prefixed)
            raise ValueError(f"“{escape_mrkdwn(truncate(typed, 40))}” could be any of {choices}: "
                             "type a little more of the one you mean.")
        return prefixed[0] if prefixed else None

    def resolve(self, typed: str) -> Code:
        found = self.find(typed)
        if found is None:
            raise ValueError(f"“{escape_mrkdwn(truncate(typed, 40))}” isn't a {self.what} here. "
                             f"Use one of: {self.codes()}.")
        return found

    def codes(self) -> str:
        return ", ".join(f"`{item.code}`" for item in self.items)


# --- services -----------------------------------------------------------------------------------


def rated_lead(row: RatingRow, *, created: bool = False) -> RatedLead:
    return RatedLead(
        id=row.id, lead_ref=row.lead_ref, rating=row.rating, reasons=tuple(label for _, label in row.reasons),
        source=row.source_label, reason_codes=tuple(code for code, _ in row.reasons), source_id=row.source_id,
        source_text=row.source_text, campaign=row.campaign, note=row.note, rater_user_id=row.rater_user_id,
        updated_at=row.updated_at, created=created, source_code=row.source_code,
    )


def _workspace(session: Session, team_id: str) -> RatingWorkspace:
    """The workspace's codes and rating settings; a workspace heard from the first time gets its defaults."""
    found = queries.rating_workspace(session=session, team_id=team_id)
    if found is None:
        queries.ensure_workspace(session=session, team_id=team_id)
        found = queries.rating_workspace(session=session, team_id=team_id)
    return found


def _active(codes: Sequence[Code]) -> list[Code]:
    return [code for code in codes if not code.retired]


def lead_form_options(*, session: Session, team_id: str) -> LeadFormOptions:
    workspace = _workspace(session, team_id)
    reasons = _active(workspace.reasons)
    return LeadFormOptions(
        good_reasons=tuple((r.code, r.label) for r in reasons if r.polarity == "good"),
        bad_reasons=tuple((r.code, r.label) for r in reasons if r.polarity == "bad"),
        allow_new_sources=workspace.allow_new_sources,
        qualified_lead_definition=qualified_lead_definition(session=session, team_id=team_id),
    )


def workspace_codes(*, session: Session, team_id: str) -> tuple[str, str]:
    """The workspace's reason codes and source codes, listed for help text."""
    workspace = _workspace(session, team_id)
    return (CodeList(_active(workspace.reasons), what="reason code").codes(),
            CodeList(_active(workspace.sources), what="source").codes())


def workspace_sources(*, session: Session, team_id: str) -> tuple[Code, ...]:
    """Every source of the workspace, retired ones too (their ratings still count), in the workspace's order."""
    return _workspace(session, team_id).sources


@dataclass(frozen=True)
class SourceSuggestions:
    """The modal's source typeahead: matching sources, and whether to offer the typed text itself."""

    matches: list[tuple[int, str]]  # (id, label)
    offer_typed: bool  # it matches no source: picking it adds it, or keeps it under Other
    allow_new_sources: bool


def find_sources(*, session: Session, team_id: str, typed: str, limit: int = 20) -> SourceSuggestions:
    """Sources for the modal's typeahead: those whose name contains what was typed, led by the one it means
    (`webinars`, an alias like `ppc`), as saving would match it."""
    workspace = _workspace(session, team_id)
    typed = typed.strip()
    sources = list(queries.search_sources(session=session, team_id=team_id, typed=typed, limit=limit))
    meant, ambiguous = None, False
    if typed:
        try:
            meant = CodeList(_active(workspace.sources), what="source").find(typed)
        except ValueError:
            ambiguous = True
    matches = [(source.id, source.label) for source in sources]
    if meant is not None:
        matches = [(meant.id, meant.label), *(match for match in matches if match[0] != meant.id)][:limit]
    return SourceSuggestions(matches=matches, offer_typed=bool(typed) and meant is None and not ambiguous,
                             allow_new_sources=workspace.allow_new_sources)


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
    submit leaves one row. What the new rating leaves unsaid (source, campaign, note, reasons)
    is kept from the earlier one: the rep didn't see it, so leaving it out doesn't mean "remove it".
    An edit (`rating_id`, from the prefilled modal) stores exactly what was sent.
    """
    workspace = _workspace(session, team_id)
    key = lead_key(rating.lead)
    held = queries.held_ratings(session=session, team_id=team_id, rater_user_id=user_id, lead_key=key,
                                rating_id=rating_id, feed_key_prefix=FEED_KEY)
    same_lead = next((row for row in held if row.rater_user_id == user_id and row.lead_key == key), None)
    earlier = same_lead if rating_id is None else None
    edited = None
    if rating_id is not None:
        edited = next((row for row in held if row.id == rating_id), None)
        if edited is None:
            raise NotFound("That rating no longer exists. Rate the lead again with `/leadfeedback`.")
        if edited.rater_user_id != user_id:
            raise NotAllowed("You can only edit your own ratings.")
        if same_lead is not None and same_lead.id != rating_id:
            raise InvalidInput({"lead": "You have already rated this lead: edit that rating instead "
                                        "(see `/leadfeedback mine`)."})
    if earlier is not None:
        rating = rating.model_copy(update=dict(campaign=rating.campaign or earlier.campaign,
                                               note=rating.note or earlier.note))
    reasons, source = _resolve_codes(session=session, team_id=team_id, user_id=user_id, workspace=workspace,
                                     rating=rating, earlier=earlier, edited=edited)
    saved = queries.save_lead_rating(
        session=session, team_id=team_id, rater_user_id=user_id, rating_id=rating_id, lead_ref=rating.lead,
        lead_key=key, rating=rating.rating, source_id=source.source_id, source_text=source.source_text,
        campaign=rating.campaign, note=rating.note, reason_ids=[reason.id for reason in reasons], now=now)
    # Bad leads are posted for marketing; a post already made is re-synced whenever the rating changes.
    feed = workspace.lead_feed_channel or default_lead_feed_channel
    posted = (edited or earlier) is not None and (edited or earlier).feed_post
    feed_post = [Message(kind="lead_feed", dedupe_key=f"{FEED_KEY}{saved.id}", channel=feed,
                         payload={"rating_id": saved.id})] if feed and (rating.rating in FEED_RATINGS or posted) else []
    # One INSERT queues the feed post and the rep's Home refresh; the commit starts their delivery.
    outbox.enqueue(session=session, team_id=team_id, messages=[*feed_post, home_refresh(user_id)], now=now)
    return rated_lead(RatingRow(
        id=saved.id, lead_ref=rating.lead, rating=rating.rating, source_id=source.source_id,
        source_label=source.label, source_text=source.source_text, campaign=rating.campaign, note=rating.note,
        rater_user_id=user_id, updated_at=now,
        reasons=tuple((reason.code, reason.label) for reason in sorted(reasons, key=lambda r: (r.position, r.id))),
    ), created=saved.created)


def _resolve_codes(
    *, session: Session, team_id: str, user_id: str, workspace: RatingWorkspace, rating: LeadRatingInput,
    earlier: HeldRating | None, edited: HeldRating | None,
) -> tuple[list[Code], SourceChoice]:
    """The rating's reasons and where its source lands, or InvalidInput naming each bad field.

    The reasons of the rating being edited stay usable even if an admin has retired them since.
    """
    errors: dict[str, str] = {}
    reasons = CodeList(_active(workspace.reasons), what="reason code")
    by_id = {reason.id: reason for reason in workspace.reasons}
    held = {by_id[reason_id].code: by_id[reason_id] for reason_id in (edited.reason_ids if edited else ())}
    reason_rows: list[Code] = []
    for typed in rating.reasons:
        try:
            reason_rows.append(held.get(typed) or reasons.resolve(typed))
        except ValueError as problem:
            errors.setdefault("reasons", str(problem))
    if not rating.reasons and earlier is not None:
        reason_rows = [by_id[reason_id] for reason_id in earlier.reason_ids
                       if _still_fits(by_id[reason_id], rating.rating)]
    if any(reason.requires_note for reason in reason_rows) and not rating.note:
        errors.setdefault("note", "You picked “other”: say why in the note.")
    source = _source_for(workspace=workspace, rating=rating, earlier=earlier)
    if source.problem:
        errors["new_source" if rating.new_source else "source"] = source.problem
    if errors:
        raise InvalidInput(errors, usage=QUICK_USAGE)
    if source.add_typed:
        added = queries.add_source(session=session, team_id=team_id, code=slug(rating.typed_source)[:40],
                                   label=rating.typed_source, created_by=user_id)
        file_typed_sources(session=session, team_id=team_id)  # earlier ratings that typed it too
        source = SourceChoice(source_id=added, label=rating.typed_source)
    return list(dict.fromkeys(reason_rows)), source


def _still_fits(reason: Code, rating: int) -> bool:
    # A bad reason kept from an earlier rating doesn't fit a lead now rated good (4-5), nor a good one a bad lead.
    return not (reason.polarity == "bad" and rating >= 4 or reason.polarity == "good" and rating <= 2)


@dataclass(frozen=True)
class SourceChoice:
    """Where a rating's source lands: a known source, the typed text under "other", or a source to add."""

    source_id: int | None = None
    label: str | None = None  # the source's, as people read it
    source_text: str | None = None
    add_typed: bool = False
    problem: str | None = None


def _source_for(*, workspace: RatingWorkspace, rating: LeadRatingInput, earlier: HeldRating | None) -> SourceChoice:
    """A typed source is matched forgivingly against the workspace's sources. One that matches none is
    added when the admin allows new sources; otherwise it is kept as text under "other", for an admin to add.
    """
    by_id = {source.id: source for source in workspace.sources}
    if rating.source_id is not None:
        if rating.source_id not in by_id:
            return SourceChoice(problem="That source no longer exists: pick another one.")
        return SourceChoice(source_id=rating.source_id, label=by_id[rating.source_id].label)
    typed = rating.typed_source
    if not typed:
        if earlier is None or earlier.source_id is None and earlier.source_text is None:
            return SourceChoice()
        kept = by_id.get(earlier.source_id) if earlier.source_id is not None else None
        return SourceChoice(source_id=earlier.source_id, label=kept.label if kept else None,
                            source_text=earlier.source_text)
    return _typed_source_choice(workspace, typed)


def _typed_source_choice(workspace: RatingWorkspace, typed: str) -> SourceChoice:
    if not slug(typed):
        return SourceChoice(problem="Name the source with letters or numbers, like `source:webinar`.")
    try:
        known = CodeList(_active(workspace.sources), what="source").find(typed)
    except ValueError as ambiguous:
        return SourceChoice(problem=str(ambiguous))
    if known is not None:
        return SourceChoice(source_id=known.id, label=known.label)
    retired = CodeList([source for source in workspace.sources if source.retired], what="source").find(
        typed, prefixes=False)
    if retired is not None:
        return SourceChoice(problem=f"“{escape_mrkdwn(retired.label)}” was retired by an admin, so new ratings "
                                    "can't use it: pick another source.")
    if workspace.allow_new_sources:
        return SourceChoice(add_typed=True)
    other = next((source for source in workspace.sources if source.code == OTHER_SOURCE and not source.retired), None)
    return SourceChoice(source_id=other.id if other else None, label=other.label if other else None,
                        source_text=typed)


def lead_source(*, session: Session, team_id: str, typed: str | None) -> SourceChoice:
    """A handed-off lead's source, matched as a rep's typed source is. What matches none of the workspace's
    sources (or only a retired one, or several) is kept as text under "other": the CRM adds no sources."""
    if not typed:
        return SourceChoice()
    workspace = _workspace(session, team_id)
    choice = _typed_source_choice(workspace, typed)
    if choice.source_id is not None and not choice.source_text:
        return choice
    other = next((source for source in workspace.sources if source.code == OTHER_SOURCE and not source.retired), None)
    return SourceChoice(source_id=other.id if other else None, label=other.label if other else None, source_text=typed)


def file_typed_sources(*, session: Session, team_id: str) -> Moved:
    """Ratings and handed-off leads kept under "other" with a typed source that is now one of the workspace's
    (an admin added it, or an alias that names it): count them under that source."""
    sources = CodeList(_active(_workspace(session, team_id).sources), what="source")
    texts: dict[int, list[str]] = {}
    for use in typed_store.typed_source_uses(session=session, team_id=team_id):
        # Exact names only: a start that fits one source today may fit another tomorrow.
        if (source := sources.find(use.text, prefixes=False)) is not None:
            texts.setdefault(source.id, []).append(use.text)
    moved = Moved()
    for source_id, named in texts.items():
        moved += typed_store.file_typed(session=session, team_id=team_id, texts=named, source_id=source_id)
    return moved


def rating_for_edit(*, session: Session, team_id: str, user_id: str, rating_id: int) -> RatedLead:
    """The rep's own rating, to prefill the edit modal."""
    rows, _ = queries.rating_rows(session=session, team_id=team_id, rating_id=rating_id)
    if not rows:
        raise NotFound("That rating no longer exists. Rate the lead again with `/leadfeedback`.")
    if rows[0].rater_user_id != user_id:
        raise NotAllowed("You can only edit your own ratings.")
    return rated_lead(rows[0])


def my_recent_ratings(*, session: Session, team_id: str, user_id: str, limit: int = 10) -> tuple[list[RatedLead], int]:
    """The rep's latest ratings, newest first, and how many they have in all."""
    rows, total = queries.rating_rows(session=session, team_id=team_id, rater_user_id=user_id, limit=limit)
    return [rated_lead(row) for row in rows], total


def lead_rating_for_feed(*, session: Session, team_id: str, rating_id: int) -> RatedLead | None:
    rows, _ = queries.rating_rows(session=session, team_id=team_id, rating_id=rating_id)
    return rated_lead(rows[0]) if rows else None
