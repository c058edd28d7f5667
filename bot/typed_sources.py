"""Sources typed by reps that are not yet sources: the admins' queue on Home, Approve and Merge into….

A rep's typed source that matches none of the workspace's is kept as text under "other" (bot.leads), and so is
a CRM's. Spellings that differ only in case are one typed source. Approve adds it as a source (its label as
typed, its code made as setup makes codes); Merge into… files it under a source and keeps the text as an alias
of that source, so the next rep typing it matches. Either way its ratings and leads move from "other".
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.leads import CodeList, file_typed_sources
from bot.results.home import FiledTypedSource, Listed, TypedSource, TypedSourceQueue
from bot.setup import CODE_MAX
from bot.text import escape_mrkdwn, slug, truncate
from storage import queries
from storage import teams as team_store
from storage import typed_sources as store
from storage.outbox import queue_home_refresh
from storage.typed_sources import Moved

MERGE_OPTIONS_MAX = 100  # Slack's limit on a static select's options
_KEY = re.compile(r"[0-9a-f]{16}")
_OLD_BUTTON = "That button is from an older Home tab: open Home again and pick it there."


def typed_source_key(text: str) -> str:
    """What names a typed source in a button: the same for every spelling that differs only in case, and short
    whatever the text (a block id holds 255 characters, an option's value 150)."""
    return hashlib.sha256(text.lower().encode()).hexdigest()[:16]


@dataclass
class _Waiting:
    """One typed source as the database has it now: its spellings, and how many ratings and leads name it."""

    spellings: dict[str, int]  # every spelling, exactly as stored, and how many ratings and leads use it
    ratings: int = 0
    leads: int = 0

    @property
    def texts(self) -> list[str]:
        return list(self.spellings)

    @property
    def shown(self) -> str:
        """The spelling most used, alphabetically first among equals: what it is shown as, and approved as."""
        return min(self.spellings, key=lambda text: (-self.spellings[text], text))


def _waiting(session: Session, team_id: str) -> dict[str, _Waiting]:
    """The typed sources by key, most used first (then alphabetically)."""
    found: dict[str, _Waiting] = {}
    for use in store.typed_source_uses(session=session, team_id=team_id):
        waiting = found.setdefault(typed_source_key(use.text), _Waiting({}))
        waiting.spellings[use.text] = use.ratings + use.leads
        waiting.ratings += use.ratings
        waiting.leads += use.leads
    return dict(sorted(found.items(), key=lambda item: (-item[1].ratings - item[1].leads,
                                                         item[1].shown.lower(), item[1].shown)))


def typed_source_queue(*, session: Session, team_id: str, limit: int) -> TypedSourceQueue | None:
    """The typed sources waiting for an admin, the first `limit` of them, with the sources to merge one into;
    None when none waits."""
    waiting = _waiting(session, team_id)
    if not waiting:
        return None
    shown = tuple(TypedSource(key=key, text=typed.shown, ratings=typed.ratings, leads=typed.leads)
                  for key, typed in list(waiting.items())[:limit])
    sources = tuple((source.id, source.label)
                    for source in queries.active_sources(session=session, team_id=team_id)[:MERGE_OPTIONS_MAX])
    return TypedSourceQueue(typed=Listed(shown, len(waiting)), sources=sources)


def _require_admin(session: Session, team_id: str, user_id: str, configured_admins: frozenset[str]) -> None:
    admins = set(team_store.admin_ids(session=session, team_id=team_id)) | configured_admins
    if user_id not in admins:
        ask = f" Ask one of them: {', '.join(f'<@{admin}>' for admin in sorted(admins))}." if admins else ""
        raise NotAllowed(f"Only Crossfeed admins can approve or merge the sources reps typed; nothing changed.{ask}")


def _clicked(session: Session, team_id: str, user_id: str, key: str | None,
             configured_admins: frozenset[str]) -> tuple[str, _Waiting | None]:
    """The typed source a click names, looked up again now (None when nothing waits under it any more)."""
    _require_admin(session, team_id, user_id, configured_admins)
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise InvalidInput({"source": _OLD_BUTTON})
    return key, _waiting(session, team_id).get(key)


def _already(session: Session, team_id: str, key: str) -> FiledTypedSource:
    """Nothing waits under `key`: say which source its text counts under now, if any does by that name."""
    for source in store.sources_of(session=session, team_id=team_id):
        for name in (source.label, source.code, *(source.aliases or ())):
            if typed_source_key(name) == key:
                return FiledTypedSource(how="already", text=name, source=source.label)
    return FiledTypedSource(how="gone", text=None, source=None)


def _move_to_source(session: Session, team_id: str, typed: _Waiting, source_id: int, now: datetime,
                    configured_admins: frozenset[str]) -> Moved:
    """Move the typed source's ratings and leads to the source, and any other typed text that now names a source
    exactly (another spelling of it). Every admin's Home is refreshed, and the Home of each rep whose rating or
    lead moved (it shows the source)."""
    moved = store.file_typed(session=session, team_id=team_id, texts=typed.texts, source_id=source_id)
    moved += file_typed_sources(session=session, team_id=team_id)
    admins = set(team_store.admin_ids(session=session, team_id=team_id)) | configured_admins
    queue_home_refresh(session=session, team_id=team_id, user_ids=sorted(admins | moved.people), now=now)
    return moved


def approve_typed_source(*, session: Session, team_id: str, user_id: str, key: str | None, now: datetime,
                         configured_admins: frozenset[str] = frozenset()) -> FiledTypedSource:
    """Approve: the typed source becomes a source, labelled as typed; its ratings and leads move to it."""
    key, typed = _clicked(session, team_id, user_id, key, configured_admins)
    if typed is None:
        return _already(session, team_id, key)
    label = typed.shown
    shown = escape_mrkdwn(truncate(label, 75))
    code = slug(label)[:CODE_MAX].strip("-")
    if not code:
        raise InvalidInput({"source": f"“{shown}” has no letters or digits, so it can't name a source: merge it "
                                      "into one instead. Nothing changed."})
    # Typed before a source of that name was added (a lead the CRM sent, say): it is filed there, not added twice.
    active = [source for source in queries.rating_workspace(session=session, team_id=team_id).sources
              if not source.retired]
    named = CodeList(active, what="source").find(label, prefixes=False)
    taken = queries.source_by_code(session=session, team_id=team_id, code=code) if named is None else None
    if taken is not None:  # active ones are found by their code above: this one was retired
        raise NotAllowed(f"“{shown}” would be the source `{code}`, which an admin retired "
                         f"(“{escape_mrkdwn(taken.label)}”). Bring it back in `/alignment setup`, or merge "
                         f"“{shown}” into another source. Nothing changed.")
    source_id = named.id if named is not None else queries.add_source(
        session=session, team_id=team_id, code=code, label=label, created_by=user_id)
    moved = _move_to_source(session, team_id, typed, source_id, now, configured_admins)
    if not moved.ratings and not moved.leads:  # another admin's click filed them a moment ago
        return _already(session, team_id, key)
    return FiledTypedSource(how="added" if named is None else "filed", text=label,
                            source=named.label if named is not None else label, ratings=moved.ratings,
                            leads=moved.leads)


def merge_typed_source(*, session: Session, team_id: str, user_id: str, key: str | None, source_id: int | None,
                       now: datetime, configured_admins: frozenset[str] = frozenset()) -> FiledTypedSource:
    """Merge into…: the typed source's ratings and leads move to an active source, and its text becomes an alias
    of that source (matched as its name is, so the next rep typing it lands there)."""
    key, typed = _clicked(session, team_id, user_id, key, configured_admins)
    if source_id is None:
        raise InvalidInput({"source": _OLD_BUTTON})
    if typed is None:
        return _already(session, team_id, key)
    source = store.source_to_change(session=session, team_id=team_id, source_id=source_id)
    if source is None or source.retired_at is not None:
        raise NotFound("That source was retired or removed meanwhile: pick another one from the list on Home. "
                       "Nothing changed.")
    aliases = list(source.aliases or ())
    if slug(typed.shown) and slug(typed.shown) not in {slug(source.code), slug(source.label), *map(slug, aliases)}:
        source.aliases = [*aliases, typed.shown]  # a new list: the JSON column sees the change
    moved = _move_to_source(session, team_id, typed, source.id, now, configured_admins)
    if not moved.ratings and not moved.leads:
        return _already(session, team_id, key)
    return FiledTypedSource(how="merged", text=typed.shown, source=source.label, ratings=moved.ratings,
                            leads=moved.leads)
