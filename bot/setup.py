"""`/alignment setup`: the whole workspace configuration in one form, read and saved in one go."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.orm import Session

from bot.errors import InvalidInput
from bot.leads import file_typed_sources
from bot.pulse import DEFAULT_QUESTIONS, threshold_in_force
from bot.results.messaging import MAX_DAYS
from bot.results.setup import (
    ASK_REMINDER_HOURS_MAX,
    DEFINITION_MAX,
    HOLIDAYS_MAX,
    LEAD_RATE_AFTER_DAYS_MAX,
    LEAD_SLA_MINUTES_MAX,
    PULSE_REMINDER_HOURS_MAX,
    THRESHOLD_MAX,
    THRESHOLD_MIN,
    CodeLine,
    SavedSetup,
    SetupState,
)
from bot.results.teams import SIDES
from bot.results.workspace import DAYS
from bot.skipped_weeks import week_labels
from bot.teams import usergroups
from bot.text import escape_mrkdwn, slug, truncate
from bot.zones import workspace_zone, zone_named
from storage import queries
from storage import teams as store
from storage.models import LeadSource, ReasonCode

QUESTIONS_MAX, QUESTION_MAX_CHARS = 5, 150
CODE_MAX, LABEL_MAX, CODES_MAX = 40, 75, 50
_CLOCK = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_AVERAGE = re.compile(r"[1-5](?:[.,]\d)?")
_SHARE = re.compile(r"(\d{1,3})\s*%")


def code_lines(text: str | None, what: str) -> list[CodeLine]:
    """Read `code: Label` lines (a bare `Label` gets a code made from it); bullets and blank lines are fine."""
    lines: list[CodeLine] = []
    for raw in (text or "").splitlines():
        line = raw.strip().removeprefix("•").removeprefix("* ").strip()
        if not line:
            continue
        code, colon, label = line.partition(":")
        label = " ".join((label if colon else code).split())
        code = slug(code)
        if not code or not label:
            raise ValueError(f"“{line[:40]}” needs a code and a label, like `no-budget: No budget`.")
        if len(code) > CODE_MAX or len(label) > LABEL_MAX:
            raise ValueError(f"Keep {what} codes under {CODE_MAX} characters and labels under {LABEL_MAX} "
                             f"(“{line[:40]}” is too long).")
        if code in {seen.code for seen in lines}:
            raise ValueError(f"`{code}` is listed twice; each {what} needs its own code.")
        lines.append(CodeLine(code=code, label=label))
    if len(lines) > CODES_MAX:
        raise ValueError(f"Keep it to {CODES_MAX} {what}s; retire the ones nobody uses.")
    return lines


def holiday_dates(text: str | None) -> list[str]:
    """Holidays typed one per line or separated by commas or spaces, as sorted ISO dates (each once)."""
    days: set[date] = set()
    for typed in re.split(r"[\s,;]+", text or ""):
        if not typed:
            continue
        try:
            if not _ISO_DATE.fullmatch(typed):
                raise ValueError
            days.add(date.fromisoformat(typed))
        except ValueError:
            raise ValueError(f"“{escape_mrkdwn(truncate(typed, 20))}” isn't a date I can read: write each holiday "
                             "as YYYY-MM-DD (e.g. 2026-12-25), one per line or separated by commas.") from None
    if len(days) > HOLIDAYS_MAX:
        raise ValueError(f"Keep it to {HOLIDAYS_MAX} holidays; past ones can go.")
    return [day.isoformat() for day in sorted(days)]


def _whole_number(value: object, default: int, low: int, high: int, problem: str) -> int:
    text = str(value if value is not None else default).strip()
    if not text.isdigit() or not low <= int(text) <= high:
        raise ValueError(problem)
    return int(text)


class LeadQualityTarget(BaseModel):
    """Lead quality to aim for: an average rating (1–5) or a share of good, 4–5, ratings (a percentage)."""

    value: float
    kind: Literal["average", "good"]


def lead_quality_target(text: str | None) -> LeadQualityTarget | None:
    """"3.8" (an average rating) or "60%" (a share of good ratings); empty is no target."""
    typed = (text or "").strip()
    if not typed:
        return None
    if _AVERAGE.fullmatch(typed) and 1 <= (average := float(typed.replace(",", "."))) <= 5:
        return LeadQualityTarget(value=average, kind="average")
    if (share := _SHARE.fullmatch(typed)) and int(share.group(1)) <= 100:
        return LeadQualityTarget(value=int(share.group(1)), kind="good")
    raise ValueError(f"“{escape_mrkdwn(truncate(typed, 20))}” isn't a target I can read: write an average rating "
                     "from 1 to 5 with at most one decimal, like 3.8, or a share of good (4–5) ratings, like 60%. "
                     "Leave it empty for no target.")


def codes_in(text: str | None) -> set[str]:
    """The codes a `code: Label` text lists, leniently (for text Crossfeed itself wrote)."""
    return {slug(line.partition(":")[0]) for line in (text or "").splitlines() if line.strip()} - {""}


class SetupForm(BaseModel):
    """What the setup modal sends back, validated before anything is stored."""

    model_config = ConfigDict(str_strip_whitespace=True)

    digest_channels: list[str] = Field(default_factory=list, max_length=10)
    sales_channel: str | None = None
    lead_feed_channel: str | None = None
    sales_usergroup: str | None = None
    marketing_usergroup: str | None = None
    sales_members: list[str] = Field(default_factory=list)
    marketing_members: list[str] = Field(default_factory=list)
    leaders: list[str] = Field(default_factory=list)
    pulse_cadence: Literal["weekly", "biweekly"] = "weekly"
    pulse_day: Literal[DAYS] = "wed"  # type: ignore[valid-type]
    pulse_time: str = "10:00"
    pulse_questions: list[str] = Field(default_factory=lambda: list(DEFAULT_QUESTIONS))
    digest_day: Literal[DAYS] = "mon"  # type: ignore[valid-type]
    digest_time: str = "09:00"
    timezone: str = "UTC"
    anonymity_threshold: int = 3
    bad_reasons: list[CodeLine] = Field(default_factory=list)
    good_reasons: list[CodeLine] = Field(default_factory=list)
    sources: list[CodeLine] = Field(default_factory=list)
    allow_new_sources: bool = False
    ask_reminder_hours: int = 24
    lead_sla_minutes: int = 60
    work_start: str = "09:00"
    work_end: str = "17:00"
    work_days: list[Literal[DAYS]] = Field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"])  # type: ignore[valid-type]
    holidays: list[str] = Field(default_factory=list)
    lead_escalation_user_id: str | None = None
    lead_rate_after_days: int = 1
    qualified_lead_definition: str | None = None
    pulse_reminder_hours: int = 24
    skipped_pulse_weeks: list[str] = Field(default_factory=list)
    ask_open_days: int = 14
    alignment_target: int | None = None
    lead_quality_target: LeadQualityTarget | None = None
    # The codes the modal listed when it opened: only those are retired when left out, so a source
    # a rep adds while the modal is open, or one that didn't fit in it, is kept. None: retire any.
    shown_reasons: set[str] | None = None
    shown_sources: set[str] | None = None
    # The skipped weeks and digest channels the modal showed: saving applies what the admin added and removed
    # to what is stored then, so a week skipped or a channel set by command while the modal was open is kept.
    # None: the form's list replaces the stored one.
    shown_skipped_weeks: list[str] | None = None
    shown_digest_channels: list[str] | None = None

    @field_validator("pulse_time", "digest_time", "work_start", "work_end", mode="before")
    @classmethod
    def _clock(cls, value: str | None) -> str:
        if not value or not _CLOCK.fullmatch(value.strip()):
            raise ValueError("Pick a time of day, like 10:00.")
        return value.strip()

    @field_validator("pulse_questions", mode="before")
    @classmethod
    def _questions(cls, value: str | list[str] | None) -> list[str]:
        lines = value.splitlines() if isinstance(value, str) else list(value or [])
        questions = [" ".join(q.split()) for q in lines if q.strip()]
        if not 1 <= len(questions) <= QUESTIONS_MAX:
            raise ValueError(f"Ask between 1 and {QUESTIONS_MAX} questions, one per line.")
        if too_long := next((q for q in questions if len(q) > QUESTION_MAX_CHARS), None):
            raise ValueError(f"Keep each question under {QUESTION_MAX_CHARS} characters (“{too_long[:40]}…”).")
        return questions

    @field_validator("timezone", mode="before")
    @classmethod
    def _zone(cls, value: str | None) -> str:
        name = (value or "").strip()
        if zone_named(name) is None:
            raise ValueError(f"“{name[:40]}” isn't a time zone I know. Use a name like `America/New_York` "
                             "or `Europe/Paris`.")
        return name

    @field_validator("anonymity_threshold", mode="before")
    @classmethod
    def _threshold(cls, value: object) -> int:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ValueError(f"Enter a whole number, {THRESHOLD_MIN} or more.") from None
        if not THRESHOLD_MIN <= number <= THRESHOLD_MAX:
            raise ValueError(f"Use a number from {THRESHOLD_MIN} to {THRESHOLD_MAX}: fewer than {THRESHOLD_MIN} "
                             "answers would let people work out who said what.")
        return number

    @field_validator("ask_reminder_hours", mode="before")
    @classmethod
    def _reminder_hours(cls, value: object) -> int:
        text = str(value if value is not None else 24).strip()
        if not text.isdigit() or not 1 <= int(text) <= ASK_REMINDER_HOURS_MAX:
            raise ValueError(f"Use a whole number of hours from 1 to {ASK_REMINDER_HOURS_MAX} (two weeks), "
                             "e.g. 24 for a day after the ask opens.")
        return int(text)

    @field_validator("pulse_reminder_hours", mode="before")
    @classmethod
    def _pulse_reminder(cls, value: object) -> int:
        return _whole_number(value, 24, 1, PULSE_REMINDER_HOURS_MAX,
                             "Use a whole number of hours after the round opens, e.g. 24 for a day later.")

    @field_validator("skipped_pulse_weeks", mode="before")
    @classmethod
    def _skipped(cls, value: str | list[str] | None) -> list[str]:
        return week_labels("\n".join(value) if isinstance(value, list) else value)

    @field_validator("ask_open_days", mode="before")
    @classmethod
    def _ask_days(cls, value: object) -> int:
        return _whole_number(value, 14, 1, MAX_DAYS,
                             f"Use a whole number of days from 1 to {MAX_DAYS}, e.g. 14 for two weeks.")

    @field_validator("alignment_target", mode="before")
    @classmethod
    def _alignment_target(cls, value: object) -> int | None:
        if value is None or not str(value).strip():
            return None
        return _whole_number(value, 0, 0, 100, "Use a whole number from 0 to 100, like 70, or leave it empty "
                                               "for no target.")

    @field_validator("lead_quality_target", mode="before")
    @classmethod
    def _lead_target(cls, value: object) -> LeadQualityTarget | None:
        return value if isinstance(value, LeadQualityTarget) else lead_quality_target(value)

    @field_validator("lead_sla_minutes", mode="before")
    @classmethod
    def _sla(cls, value: object) -> int:
        return _whole_number(value, 60, 1, LEAD_SLA_MINUTES_MAX,
                             f"Use a whole number of minutes from 1 to {LEAD_SLA_MINUTES_MAX}, counted in working "
                             "hours: e.g. 60 for one working hour.")

    @field_validator("lead_rate_after_days", mode="before")
    @classmethod
    def _rate_after(cls, value: object) -> int:
        return _whole_number(value, 1, 1, LEAD_RATE_AFTER_DAYS_MAX,
                             f"Use a whole number of working days from 1 to {LEAD_RATE_AFTER_DAYS_MAX}: e.g. 1 for "
                             "the next working day.")

    @field_validator("work_days", mode="before")
    @classmethod
    def _work_days(cls, value: list[str] | None) -> list[str]:
        if not value:
            raise ValueError("Pick at least one working day: the follow-up time counts only working hours.")
        return [day for day in DAYS if day in set(value)]

    @field_validator("holidays", mode="before")
    @classmethod
    def _holidays(cls, value: str | list[str] | None) -> list[str]:
        return holiday_dates("\n".join(value) if isinstance(value, list) else value)

    @field_validator("qualified_lead_definition", mode="before")
    @classmethod
    def _definition(cls, value: str | None) -> str | None:
        text = (value or "").strip()
        if len(text) > DEFINITION_MAX:
            raise ValueError(f"Keep the definition within {DEFINITION_MAX:,} characters (it has {len(text):,}): "
                             "a few lines both teams can rate against.")
        return text or None

    @field_validator("bad_reasons", "good_reasons", "sources", mode="before")
    @classmethod
    def _codes(cls, value: str | list | None, info) -> list:
        if isinstance(value, list):
            return value
        return code_lines(value, "source" if info.field_name == "sources" else "reason")

    @field_validator("allow_new_sources", mode="before")
    @classmethod
    def _ticked(cls, value: bool | list | None) -> bool:
        return bool(value)  # a checkbox sends the options ticked

    @field_validator("sales_usergroup", "marketing_usergroup", "sales_channel", "lead_feed_channel",
                     "lead_escalation_user_id", mode="before")
    @classmethod
    def _optional(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _consistent(self) -> SetupForm:
        errors: dict[str, str] = {}
        if both := [u for u in self.marketing_members if u in set(self.sales_members)]:
            who = "1 person is" if len(both) == 1 else f"{len(both)} people are"
            errors["marketing_members"] = f"{who} picked for both teams; a person can be on one team only."
        if self.sales_usergroup and self.sales_usergroup == self.marketing_usergroup:
            errors["marketing_usergroup"] = "Sales and marketing need different user groups."
        bad = {line.code for line in self.bad_reasons}
        if twice := [line.code for line in self.good_reasons if line.code in bad]:
            errors["good_reasons"] = f"`{twice[0]}` is both a good and a bad reason; keep it in one list."
        if not self.bad_reasons:
            errors["bad_reasons"] = "Keep at least one reason a lead was poor, so reps can say why."
        if not self.sources:
            errors["sources"] = "Keep at least one source, so ratings can say where leads came from."
        if self.work_end <= self.work_start:
            errors["work_end"] = "End the working day after the start, e.g. 09:00 to 17:00."
        if errors:
            raise InvalidInput(errors)
        return self


def setup_state(*, session: Session, team_id: str, default_zone: str | None, default_sales_channel: str | None,
                default_lead_feed_channel: str | None) -> SetupState:
    config = store.workspace_config(session=session, team_id=team_id)
    members: dict[str, list[str]] = {side: [] for side in SIDES}
    synced = dict.fromkeys(SIDES, 0)
    for member in store.team_members(session=session, team_id=team_id):
        if member.origin == "explicit":
            members[member.side].append(member.user_id)
        else:
            synced[member.side] += 1
    reasons = queries.active_reasons(session=session, team_id=team_id)
    return SetupState(
        digest_channels=list(config.digest_channels or []),
        sales_channel=config.sales_channel or default_sales_channel,
        lead_feed_channel=config.lead_feed_channel or default_lead_feed_channel,
        usergroups=usergroups(session=session, team_id=team_id),
        members=members, synced_counts=synced, leaders=list(config.leader_user_ids or []),
        pulse_cadence=config.pulse_cadence, pulse_day=config.pulse_day, pulse_time=config.pulse_time,
        pulse_questions=list(config.pulse_questions or DEFAULT_QUESTIONS),
        digest_day=config.digest_day, digest_time=config.digest_time,
        timezone=workspace_zone(config, default_zone).key,
        anonymity_threshold=threshold_in_force(config=config),
        bad_reasons=[CodeLine(code=r.code, label=r.label) for r in reasons if r.polarity == "bad"],
        good_reasons=[CodeLine(code=r.code, label=r.label) for r in reasons if r.polarity == "good"],
        sources=[CodeLine(code=s.code, label=s.label)
                 for s in queries.active_sources(session=session, team_id=team_id)],
        allow_new_sources=config.allow_new_sources,
        typed_sources=queries.typed_source_counts(session=session, team_id=team_id),
        ask_reminder_hours=config.ask_reminder_hours,
        lead_sla_minutes=config.lead_sla_minutes, work_start=config.work_start, work_end=config.work_end,
        work_days=list(config.work_days or []), holidays=list(config.holidays or []),
        lead_escalation_user_id=config.lead_escalation_user_id, lead_rate_after_days=config.lead_rate_after_days,
        qualified_lead_definition=config.qualified_lead_definition,
        pulse_reminder_hours=config.pulse_reminder_hours, pulse_open_hours=config.pulse_open_hours,
        skipped_pulse_weeks=list(config.skipped_pulse_weeks or []), ask_open_days=config.ask_open_days,
        alignment_target=config.alignment_target, lead_quality_target=config.lead_quality_target,
        lead_quality_target_kind=config.lead_quality_target_kind,
    )


def shown_weeks(text: str | None) -> list[str]:
    """The skipped weeks a setup modal listed (as Crossfeed wrote them)."""
    try:
        return week_labels(text)
    except ValueError:
        return []


def edited(stored: list[str], *, shown: list[str] | None, submitted: list[str]) -> list[str]:
    """The admin's edit of a list applied to the list as stored now: what they added to and removed from what the
    form showed. A change made meanwhile (by a command, or another admin's setup) stays unless this edit undoes
    it. Without what the form showed, the submitted list as it is."""
    if shown is None:
        return submitted
    removed, added = set(shown) - set(submitted), [item for item in submitted if item not in shown]
    return list(dict.fromkeys([*(item for item in stored if item not in removed), *added]))


def save_setup(*, session: Session, team_id: str, form: SetupForm, now: datetime) -> SavedSetup:
    """Store the whole form in the caller's transaction: all of it or, if anything is wrong, none of it."""
    config = store.workspace_config(session=session, team_id=team_id)
    if form.pulse_reminder_hours >= config.pulse_open_hours:
        raise InvalidInput({"pulse_reminder_hours": (
            f"Remind before the round closes: it stays open {config.pulse_open_hours} hours, so use 1 to "
            f"{config.pulse_open_hours - 1}.")})
    config.digest_channels = edited(config.digest_channels or [], shown=form.shown_digest_channels,
                                    submitted=list(dict.fromkeys(form.digest_channels)))
    config.sales_channel, config.lead_feed_channel = form.sales_channel, form.lead_feed_channel
    config.leader_user_ids = list(dict.fromkeys(form.leaders))
    config.pulse_cadence, config.pulse_day, config.pulse_time = form.pulse_cadence, form.pulse_day, form.pulse_time
    config.pulse_questions = None if form.pulse_questions == list(DEFAULT_QUESTIONS) else form.pulse_questions
    config.digest_day, config.digest_time = form.digest_day, form.digest_time
    config.timezone = form.timezone
    # Comments need at least as many answers as scores before any is shown.
    config.comment_threshold = max(config.comment_threshold, form.anonymity_threshold)
    config.anonymity_threshold = form.anonymity_threshold
    config.allow_new_sources = form.allow_new_sources
    config.ask_reminder_hours = form.ask_reminder_hours  # asks already open keep the reminder time they got
    # Leads already handed off keep the follow-up times they got when they arrived.
    config.lead_sla_minutes = form.lead_sla_minutes
    config.work_start, config.work_end, config.work_days = form.work_start, form.work_end, form.work_days
    config.holidays = form.holidays
    config.lead_escalation_user_id = form.lead_escalation_user_id
    config.lead_rate_after_days = form.lead_rate_after_days
    config.qualified_lead_definition = form.qualified_lead_definition
    # Rounds already open keep the reminder time they got; the next round opens with this one.
    config.pulse_reminder_hours = form.pulse_reminder_hours
    config.skipped_pulse_weeks = sorted(edited(config.skipped_pulse_weeks or [], shown=form.shown_skipped_weeks,
                                               submitted=form.skipped_pulse_weeks))
    config.ask_open_days = form.ask_open_days  # asks already open keep their closing time
    # Targets are read when a digest or Home is shown, so they apply to past weeks' figures too.
    config.alignment_target = form.alignment_target
    target = form.lead_quality_target
    config.lead_quality_target = target.value if target else None
    config.lead_quality_target_kind = target.kind if target else "average"

    for side in SIDES:
        chosen = getattr(form, f"{side}_members")
        store.remove_members_except(session=session, team_id=team_id, side=side, origin="explicit", keep=chosen)
        store.put_members(session=session, team_id=team_id, user_ids=chosen, side=side, origin="explicit")
        group = getattr(form, f"{side}_usergroup")
        if group is None:
            store.remove_members_except(session=session, team_id=team_id, side=side, origin="usergroup", keep=[])
        setattr(config, f"{side}_usergroup_id", group)

    reasons = queries.save_code_list(
        session=session, model=ReasonCode, team_id=team_id, now=now, retirable=form.shown_reasons,
        entries=[(line.code, line.label, {"polarity": "bad"}) for line in form.bad_reasons]
        + [(line.code, line.label, {"polarity": "good"}) for line in form.good_reasons],
    )
    sources = queries.save_code_list(
        session=session, model=LeadSource, team_id=team_id, now=now, retirable=form.shown_sources,
        entries=[(line.code, line.label, {}) for line in form.sources],
    )
    changes = [
        f"{verb.capitalize()} {len(codes)} {what}{'' if len(codes) == 1 else 's'} "
        f"({', '.join(f'`{c}`' for c in codes[:5])}{'…' if len(codes) > 5 else ''})"
        for what, changed in (("reason code", reasons), ("source", sources))
        for verb, codes in changed.items() if codes
    ]
    filed = file_typed_sources(session=session, team_id=team_id)
    if filed.ratings or filed.leads:
        moved = " and ".join(f"{count} {what}{'' if count == 1 else 's'}"
                             for count, what in ((filed.ratings, "rating"), (filed.leads, "lead")) if count)
        changes.append(f"Moved {moved} from Other to the source their rep typed")
    groups = {side: g for side in SIDES if (g := getattr(form, f"{side}_usergroup"))}
    return SavedSetup(changes=changes, groups_to_sync=groups)
