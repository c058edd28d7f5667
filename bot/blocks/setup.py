"""Block Kit for `/alignment setup`: the configuration modal and what saving it changed."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    ContextBlock,
    ConversationMultiSelectElement,
    ConversationSelectElement,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
    TimePickerElement,
    UserMultiSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks.common import static_options, user_text
from bot.blocks.ids import SetupIds as Ids
from bot.results.messaging import MAX_DAYS
from bot.results.setup import (
    ASK_REMINDER_HOURS_MAX,
    DEFINITION_MAX,
    LEAD_RATE_AFTER_DAYS_MAX,
    LEAD_SLA_MINUTES_MAX,
    THRESHOLD_MAX,
    THRESHOLD_MIN,
    CodeLine,
    SavedSetup,
    SetupState,
)
from bot.results.workspace import DAYS

NO_GROUP = "-"
CODES_HINT = ("One per line as code: Label. Edit a label to rename it; delete a line to retire it "
              "(past ratings keep it); add a line to add one.")
_DAY_NAMES = dict(zip(DAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
                      strict=True))
_CHANNELS = {"include": ["public", "private"], "exclude_bot_users": True}
_TEXT_MAX = 3000


def _select(block: Ids, label: str, choices: dict[str, str], chosen: str, *, hint: str | None = None) -> InputBlock:
    options = static_options(choices)
    return InputBlock(block_id=block, label=label, hint=hint, element=StaticSelectElement(
        action_id=block, options=options, initial_option=next(o for o in options if o.value == chosen)))


def _users(block: Ids, label: str, users: list[str], hint: str) -> InputBlock:
    return InputBlock(block_id=block, label=label, optional=True, hint=hint, element=UserMultiSelectElement(
        action_id=block, initial_users=users or None, placeholder="Pick people"))


def _text(block: Ids, label: str, lines: list[str], hint: str, *, optional: bool = False) -> InputBlock:
    """A multi-line input holding whole lines only: those that don't fit are named in the hint, not cut."""
    shown: list[str] = []
    for line in lines:
        if len("\n".join([*shown, line])) > _TEXT_MAX:
            break
        shown.append(line)
    if hidden := len(lines) - len(shown):
        hint = f"{hint} {hidden} more don't fit here and stay as they are."
    return InputBlock(block_id=block, label=label, hint=hint, optional=optional, element=PlainTextInputElement(
        action_id=block, multiline=True, max_length=_TEXT_MAX, initial_value="\n".join(shown) or None))


def _number(value: int | None) -> str | None:
    return str(value) if value is not None else None


def _lead_target(state: SetupState) -> str | None:
    """The lead-quality target as the admin typed it: "3.8" (an average rating) or "60%" (good ratings)."""
    if state.lead_quality_target is None:
        return None
    if state.lead_quality_target_kind == "good":
        return f"{round(state.lead_quality_target)}%"
    return f"{state.lead_quality_target:.1f}"


def _code_text(lines: list[CodeLine]) -> list[str]:
    return [f"{line.code}: {line.label}" for line in lines]


def _group(block: Ids, side: str, state: SetupState, usergroups: list[tuple[str, str]]) -> InputBlock:
    choices = {NO_GROUP: "No user group: only the people below"}
    choices.update({group_id: f"@{handle}" for group_id, handle in usergroups[:98]})
    current = state.usergroups.get(side)
    if current and current not in choices:
        choices[current] = "The current user group"  # deleted, or beyond the first 98
    synced = state.synced_counts[side]
    hint = (f"Everyone in it is on the {side} team; {synced} {'person' if synced == 1 else 'people'} came from it "
            "at the last sync. It is read again when you save." if current else
            f"Everyone in the user group joins the {side} team, kept in step when you save.")
    return _select(block, f"{side.title()} user group", choices, current or NO_GROUP, hint=hint)


TYPED_SOURCES_SHOWN = 20
_ALLOW = Option(value="allow", text="Reps can add a source by typing one that isn't listed")


def _typed_sources(typed: list[tuple[str, int]]) -> list[Block]:
    """Sources reps typed that match none, so an admin can add the ones that are real."""
    if not typed:
        return []
    shown = ", ".join(f"{user_text(text, 75)} ({count})" for text, count in typed[:TYPED_SOURCES_SHOWN])
    if len(typed) > TYPED_SOURCES_SHOWN:
        shown += f", and {len(typed) - TYPED_SOURCES_SHOWN} more"
    return [ContextBlock(elements=[MarkdownTextObject(
        text=f"*Typed by reps, not yet sources:* {shown}. Their ratings count under Other; add a line above "
             "to make one a source, and its ratings move to it.")])]


def _allow_new_sources(allowed: bool) -> InputBlock:
    return InputBlock(
        block_id=Ids.ALLOW_NEW_SOURCES, label="New sources", optional=True,
        hint="When off, a source a rep types that isn't listed is kept under Other and listed here for you.",
        element=CheckboxesElement(action_id=Ids.ALLOW_NEW_SOURCES, options=[_ALLOW],
                                  initial_options=[_ALLOW] if allowed else None),
    )


def _lead_handoff(state: SetupState) -> list[Block]:
    """The follow-up clock of handed-off leads: SLA, working week, escalation, rating prompt, definition."""
    days = [Option(value=day, text=name) for day, name in _DAY_NAMES.items()]
    return [
        HeaderBlock(text="Lead handoff"),
        InputBlock(block_id=Ids.LEAD_SLA_MINUTES, label="Owners accept a lead within (working minutes)",
                   hint="A reminder at half the time, an escalation when it is up, both in working hours. Applies "
                        "to leads that arrive after you save.",
                   element=NumberInputElement(action_id=Ids.LEAD_SLA_MINUTES, is_decimal_allowed=False,
                                              initial_value=str(state.lead_sla_minutes), min_value="1",
                                              max_value=str(LEAD_SLA_MINUTES_MAX))),
        InputBlock(block_id=Ids.WORK_START, label="Working day starts at (workspace time)",
                   element=TimePickerElement(action_id=Ids.WORK_START, initial_time=state.work_start)),
        InputBlock(block_id=Ids.WORK_END, label="Working day ends at (workspace time)",
                   element=TimePickerElement(action_id=Ids.WORK_END, initial_time=state.work_end)),
        InputBlock(block_id=Ids.WORK_DAYS, label="Working days", element=CheckboxesElement(
            action_id=Ids.WORK_DAYS, options=days,
            initial_options=[option for option in days if option.value in state.work_days] or None)),
        InputBlock(block_id=Ids.HOLIDAYS, label="Holidays", optional=True,
                   hint="Days off that the follow-up time skips: YYYY-MM-DD, one per line or separated by commas.",
                   element=PlainTextInputElement(action_id=Ids.HOLIDAYS, multiline=True, max_length=2000,
                                                 initial_value="\n".join(state.holidays) or None,
                                                 placeholder="2026-12-25")),
        InputBlock(block_id=Ids.LEAD_ESCALATION_USER, label="Escalate late leads to", optional=True,
                   hint="A manager who gets a DM when a lead passes its follow-up time. Empty: the sales channel.",
                   element=UserSelectElement(action_id=Ids.LEAD_ESCALATION_USER, placeholder="Pick a manager",
                                             initial_user=state.lead_escalation_user_id)),
        InputBlock(block_id=Ids.LEAD_RATE_AFTER_DAYS, label="Ask the owner to rate a lead after (working days)",
                   hint="Counted from when they accept it, so they have talked to the lead first. One reminder a "
                        "working day later.",
                   element=NumberInputElement(action_id=Ids.LEAD_RATE_AFTER_DAYS, is_decimal_allowed=False,
                                              initial_value=str(state.lead_rate_after_days), min_value="1",
                                              max_value=str(LEAD_RATE_AFTER_DAYS_MAX))),
        InputBlock(block_id=Ids.QUALIFIED_LEAD_DEFINITION, label="What counts as a qualified lead", optional=True,
                   hint="A few lines both teams rate leads against.",
                   element=PlainTextInputElement(action_id=Ids.QUALIFIED_LEAD_DEFINITION, multiline=True,
                                                 max_length=DEFINITION_MAX,
                                                 initial_value=state.qualified_lead_definition or None)),
    ]


def setup_modal(state: SetupState, *, usergroups: list[tuple[str, str]]) -> View:
    """`/alignment setup`: every setting in one modal, prefilled with how things are now."""
    blocks: list[Block] = [
        SectionBlock(text="Everything Crossfeed needs, in one place. Changes apply as soon as you save; "
                          "the schedules pick them up without a restart."),
        HeaderBlock(text="Channels"),
        InputBlock(block_id=Ids.DIGEST_CHANNELS, label="Post the weekly digest in", optional=True,
                   hint="Invite Crossfeed to private channels. Leave empty to not post a digest.",
                   element=ConversationMultiSelectElement(
                       action_id=Ids.DIGEST_CHANNELS, initial_conversations=state.digest_channels or None,
                       filter=_CHANNELS, max_selected_items=10)),
        InputBlock(block_id=Ids.SALES_CHANNEL, label="Sales channel for messaging asks", optional=True,
                   hint="Where /messaging ask posts unless the marketer picks people or another channel.",
                   element=ConversationSelectElement(
                       action_id=Ids.SALES_CHANNEL, initial_conversation=state.sales_channel, filter=_CHANNELS)),
        InputBlock(block_id=Ids.LEAD_FEED_CHANNEL, label="Lead feed channel (optional)", optional=True,
                   hint="Ratings of 1 or 2 are shared here so marketing sees poor leads as they happen.",
                   element=ConversationSelectElement(
                       action_id=Ids.LEAD_FEED_CHANNEL, initial_conversation=state.lead_feed_channel,
                       filter=_CHANNELS)),
        HeaderBlock(text="Teams"),
    ]
    if usergroups or state.usergroups:
        blocks += [_group(Ids.SALES_USERGROUP, "sales", state, usergroups),
                   _group(Ids.MARKETING_USERGROUP, "marketing", state, usergroups)]
    blocks += [
        _users(Ids.SALES_MEMBERS, "Sales team members", state.members["sales"],
               "People added by hand, besides any user group."),
        _users(Ids.MARKETING_MEMBERS, "Marketing team members", state.members["marketing"],
               "People added by hand, besides any user group."),
        _users(Ids.LEADERS, "Leaders", state.leaders,
               "They see the latest digest and the 12-week trend on their Home tab (admins always do)."),
        HeaderBlock(text="Pulse check"),
        _select(Ids.PULSE_CADENCE, "How often", {"weekly": "Every week", "biweekly": "Every two weeks"},
                state.pulse_cadence),
        _select(Ids.PULSE_DAY, "On", _DAY_NAMES, state.pulse_day),
        InputBlock(block_id=Ids.PULSE_TIME, label="At (workspace time)",
                   element=TimePickerElement(action_id=Ids.PULSE_TIME, initial_time=state.pulse_time)),
        _text(Ids.PULSE_QUESTIONS, "Questions", state.pulse_questions,
              "One per line, up to 5, each answered 1–5. {other team} becomes the other team's name."),
        InputBlock(block_id=Ids.PULSE_REMINDER_HOURS, label="Pulse reminder: hours after it opens",
                   hint=f"One reminder to those who haven't answered. A round stays open {state.pulse_open_hours} "
                        "hours; rounds already open keep their time.",
                   element=NumberInputElement(action_id=Ids.PULSE_REMINDER_HOURS, is_decimal_allowed=False,
                                              initial_value=str(state.pulse_reminder_hours), min_value="1",
                                              max_value=str(max(1, state.pulse_open_hours - 1)))),
        InputBlock(block_id=Ids.SKIPPED_PULSE_WEEKS, label="Skip pulse weeks", optional=True,
                   hint="ISO weeks with no round for anyone, e.g. holidays: 2026-W52, separated by commas or spaces.",
                   element=PlainTextInputElement(action_id=Ids.SKIPPED_PULSE_WEEKS, max_length=1000,
                                                 initial_value=", ".join(state.skipped_pulse_weeks) or None,
                                                 placeholder="2026-W52, 2027-W01")),
        HeaderBlock(text="Weekly digest"),
        _select(Ids.DIGEST_DAY, "Post it on", _DAY_NAMES, state.digest_day),
        InputBlock(block_id=Ids.DIGEST_TIME, label="At (workspace time)",
                   element=TimePickerElement(action_id=Ids.DIGEST_TIME, initial_time=state.digest_time)),
        InputBlock(block_id=Ids.ALIGNMENT_TARGET, label="Alignment index target", optional=True,
                   hint="0–100. The digest and leaders' Home show the index against it. Empty: no target.",
                   element=NumberInputElement(action_id=Ids.ALIGNMENT_TARGET, is_decimal_allowed=False,
                                              initial_value=_number(state.alignment_target), min_value="0",
                                              max_value="100", placeholder="70")),
        InputBlock(block_id=Ids.LEAD_QUALITY_TARGET, label="Lead quality target", optional=True,
                   hint="An average rating, like 3.8, or a share of good (4–5) ratings, like 60%. Empty: no target.",
                   element=PlainTextInputElement(action_id=Ids.LEAD_QUALITY_TARGET, max_length=10,
                                                 initial_value=_lead_target(state), placeholder="3.8 or 60%")),
        HeaderBlock(text="Messaging asks"),
        InputBlock(block_id=Ids.ASK_OPEN_DAYS, label="Asks stay open (days)",
                   hint="When the marketer doesn't choose. Applies to asks opened after you save.",
                   element=NumberInputElement(action_id=Ids.ASK_OPEN_DAYS, is_decimal_allowed=False,
                                              initial_value=str(state.ask_open_days), min_value="1",
                                              max_value=str(MAX_DAYS))),
        InputBlock(block_id=Ids.ASK_REMINDER_HOURS, label="Remind reps who haven't answered after (hours)",
                   hint="One reminder, this many hours after an ask opens (if it is still open then). Applies "
                        "to asks opened after you save.",
                   element=NumberInputElement(action_id=Ids.ASK_REMINDER_HOURS, is_decimal_allowed=False,
                                              initial_value=str(state.ask_reminder_hours), min_value="1",
                                              max_value=str(ASK_REMINDER_HOURS_MAX))),
        HeaderBlock(text="Workspace"),
        InputBlock(block_id=Ids.TIMEZONE, label="Time zone", hint="A name like America/New_York or Europe/Paris.",
                   element=PlainTextInputElement(action_id=Ids.TIMEZONE, initial_value=state.timezone,
                                                 max_length=64)),
        InputBlock(block_id=Ids.ANONYMITY_THRESHOLD, label="Anonymity threshold",
                   hint=f"A team's pulse scores show only when at least this many people answered "
                        f"({THRESHOLD_MIN} or more).",
                   element=NumberInputElement(action_id=Ids.ANONYMITY_THRESHOLD, is_decimal_allowed=False,
                                              initial_value=str(state.anonymity_threshold),
                                              min_value=str(THRESHOLD_MIN), max_value=str(THRESHOLD_MAX))),
        HeaderBlock(text="Lead ratings"),
        _text(Ids.BAD_REASONS, "Reasons a lead was poor", _code_text(state.bad_reasons), CODES_HINT),
        _text(Ids.GOOD_REASONS, "Reasons a lead was good", _code_text(state.good_reasons), CODES_HINT,
              optional=True),
        _text(Ids.SOURCES, "Lead sources", _code_text(state.sources), CODES_HINT),
        *_typed_sources(state.typed_sources),
        _allow_new_sources(state.allow_new_sources),
        *_lead_handoff(state),
    ]
    return View(type="modal", callback_id=Ids.MODAL, title="Crossfeed setup", submit="Save", close="Cancel",
                blocks=blocks)


def setup_saved_view(saved: SavedSetup) -> View:
    """What the modal turns into once saved."""
    lines = [f"• {change}" for change in saved.changes] or ["• Settings saved."]
    if saved.groups_to_sync:
        lines.append("• Reading the user groups now; `/alignment team list` shows who is on each team.")
    blocks: list[Block] = [
        SectionBlock(text=":white_check_mark: *Setup saved.*\n" + "\n".join(lines)[:2900]),
        DividerBlock(),
        ContextBlock(elements=[MarkdownTextObject(
            text="`/alignment status` shows the configuration and the next pulse and digest.")]),
    ]
    return View(type="modal", title="Crossfeed setup", close="Done", blocks=blocks)
