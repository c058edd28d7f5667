"""Block Kit for actions: the "Log action" modal, the owner's DMs, the outcome modal and the open-actions list."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DatePickerElement,
    InputBlock,
    PlainTextInputElement,
    SectionBlock,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks.common import mrkdwn, user_text, within_block_limit
from bot.blocks.ids import ActionIds as Ids
from bot.results import RecordId
from bot.results.actions import (
    OUTCOME_MAX,
    PROMPT_LABEL_MAX,
    TITLE_MAX,
    ActionForm,
    ActionList,
    ActionView,
    ClosedAction,
    LoggedAction,
)

LIST_BLOCK = "action.list"  # + "." + scope ("all" or "mine") + "." + id: a listed action's buttons


class ClosingMetadata(BaseModel):
    """The outcome modal's private_metadata: the action, Done or Drop, and the list to refresh, if it came
    from one (its response_url, and whether it listed only the clicker's actions)."""

    a: RecordId
    s: Literal["done", "dropped"]
    url: str | None = None
    mine: bool = False


def day(due: date) -> str:
    """A due date as people read it: "Tue Dec 15"."""
    return f"{due:%a %b} {due.day}"


def person(user_id: str) -> str:
    return f"<@{user_id}>" if user_id else "_someone no longer here_"


def _prompted_by(label: str | None) -> str:
    return f"Prompted by: {user_text(label, PROMPT_LABEL_MAX)}" if label else ""


def action_modal(form: ActionForm) -> View:
    """"Log action": what will be done (prefilled from what prompted it), who owns it, by when."""
    prompt = form.prompt
    blocks: list[Block] = []
    if prompt.label:
        blocks.append(ContextBlock(elements=[mrkdwn(f":speech_balloon: {_prompted_by(prompt.label)}")]))
    blocks += [
        InputBlock(block_id=Ids.TITLE, label="What will be done?",
                   element=PlainTextInputElement(action_id=Ids.TITLE, max_length=TITLE_MAX,
                                                 initial_value=prompt.title or None,
                                                 placeholder="Fix webinar targeting")),
        InputBlock(block_id=Ids.OWNER, label="Owner",
                   element=UserSelectElement(action_id=Ids.OWNER, initial_user=form.owner_user_id)),
        InputBlock(block_id=Ids.DUE, label="Due", hint="The owner gets a reminder on this day.",
                   element=DatePickerElement(action_id=Ids.DUE, initial_date=form.due_on.isoformat())),
        ContextBlock(elements=[mrkdwn("The owner gets a DM (unless it's you). Leaders see done and past-due "
                                      "actions in the weekly digest.")]),
    ]
    return View(type="modal", callback_id=Ids.MODAL, title="Log an action", submit="Log it", close="Cancel",
                private_metadata=prompt.to_value(), blocks=blocks)


def _summary(action: ActionView) -> str:
    line = f"*{user_text(action.title, TITLE_MAX)}*\nOwner {person(action.owner_user_id)} · due {day(action.due_on)}"
    if action.overdue:
        line += " · :warning: past due"
    if prompted := _prompted_by(action.prompt_label):
        line += f"\n{prompted}"
    return line


def logged_message(logged: LoggedAction) -> tuple[str, list[Block]]:
    """The creator's confirmation (a modal's last page, or the command's ephemeral answer)."""
    action = logged.action
    told = "" if action.owner_user_id == action.created_by else f" {person(action.owner_user_id)} gets a DM."
    text = f":white_check_mark: Action logged.{told} `/alignment action list` shows the open ones."
    return text, [SectionBlock(text=mrkdwn(text)), SectionBlock(text=mrkdwn(_summary(action)))]


def logged_view(logged: LoggedAction) -> View:
    _, blocks = logged_message(logged)
    return View(type="modal", title="Action logged", close="Done", blocks=blocks)


def action_buttons(action: ActionView, *, block_id: str) -> ActionsBlock:
    """Done (asks for the outcome) and Drop, valued with the action's id."""
    return ActionsBlock(block_id=block_id, elements=[
        ButtonElement(action_id=Ids.DONE, text="Done", style="primary", value=str(action.id)),
        ButtonElement(action_id=Ids.DROP, text="Drop", value=str(action.id)),
    ])


def _closed_line(action: ActionView) -> str:
    if action.status == "done":
        line = ":white_check_mark: *Done*"
        return line + (f": {user_text(action.outcome, OUTCOME_MAX)}" if action.outcome else "")
    line = ":heavy_minus_sign: *Dropped*"
    return line + (f": {user_text(action.outcome, OUTCOME_MAX)}" if action.outcome else "")


def action_dm(action: ActionView, *, reminder: bool) -> tuple[str, list[Block]]:
    """The owner's DM: given an action by someone else, or reminded on its due date; once the action is closed,
    the same message (updated in place) says so instead of offering the buttons."""
    title = user_text(action.title, TITLE_MAX)
    if reminder:
        when = "was due" if action.overdue else "is due today"
        text = f":alarm_clock: Your action “{title}” {when} ({day(action.due_on)})."
    else:
        text = f":clipboard: {person(action.created_by)} gave you an action: “{title}”, due {day(action.due_on)}."
    blocks: list[Block] = [SectionBlock(text=mrkdwn(text))]
    if prompted := _prompted_by(action.prompt_label):
        blocks.append(ContextBlock(elements=[mrkdwn(prompted)]))
    if action.is_open:
        blocks.append(action_buttons(action, block_id=f"action.dm.{action.id}"))
        blocks.append(ContextBlock(elements=[mrkdwn("*Done* asks for one line of outcome. "
                                                    "`/alignment action list mine` shows all yours.")]))
    else:
        blocks.append(SectionBlock(text=mrkdwn(_closed_line(action))))
    return text, blocks


def feedback_done_dm(action: ActionView) -> tuple[str, list[Block]]:
    """The DM to whoever gave the feedback behind an action, once it is done: what it led to, and the outcome."""
    title = user_text(action.title, TITLE_MAX)
    text = f":white_check_mark: Your feedback led to: “{title}”, done"
    if action.outcome:
        text += f": {user_text(action.outcome, OUTCOME_MAX)}"
    context = f"{person(action.owner_user_id)} owned it."
    if prompted := _prompted_by(action.prompt_label):
        context = f"{prompted} · {context}"
    return text, [SectionBlock(text=mrkdwn(text)), ContextBlock(elements=[mrkdwn(
        f"{context} Thanks for telling us: this is what it changed.")])]


def outcome_modal(action: ActionView, metadata: ClosingMetadata) -> View:
    """Done: one line of outcome (required). Drop: why, optionally."""
    done = metadata.s == "done"
    return View(
        type="modal", callback_id=Ids.DONE_MODAL, title="Mark it done" if done else "Drop this action",
        submit="Done" if done else "Drop it", close="Cancel",
        private_metadata=metadata.model_dump_json(exclude_none=True),
        blocks=[
            SectionBlock(text=mrkdwn(_summary(action))),
            InputBlock(block_id=Ids.OUTCOME, label="What came of it?" if done else "Why drop it?", optional=not done,
                       hint="One line: the leaders read it in the digest." if done else None,
                       element=PlainTextInputElement(action_id=Ids.OUTCOME, max_length=OUTCOME_MAX,
                                                     placeholder="Webinar list now excludes students" if done
                                                     else "Superseded by the Q1 plan")),
        ])


def closed_message(closed: ClosedAction) -> str:
    action = closed.action
    title = user_text(action.title, TITLE_MAX)
    if not closed.changed:
        return f"“{title}” was already {'done' if action.status == 'done' else 'dropped'}: nothing changed."
    return f"{_closed_line(action)} · “{title}”"


def closed_view(closed: ClosedAction) -> View:
    return View(type="modal", title="Action closed", close="Close",
                blocks=[SectionBlock(text=mrkdwn(closed_message(closed)))])


def actions_list_message(listed: ActionList) -> tuple[str, list[Block]]:
    """`/alignment action list [mine]`: open actions, soonest due first, with Done / Drop where the reader may."""
    if not listed.actions:
        text = (f"No open actions{' of yours' if listed.mine else ''}. Log one with `/alignment action` or a "
                "*Log action* button on a lead-feed post, the digest or an ask's summary.")
        return text, [SectionBlock(text=text)]
    text = f"{listed.total} open action{'s' if listed.total != 1 else ''}{' of yours' if listed.mine else ''}"
    blocks: list[Block] = [SectionBlock(text=f"*{text}*, soonest due first")]
    scope = "mine" if listed.mine else "all"
    for action in listed.actions:
        blocks.append(SectionBlock(text=mrkdwn(_summary(action))))
        if action.can_close:
            blocks.append(action_buttons(action, block_id=f"{LIST_BLOCK}.{scope}.{action.id}"))
    if listed.total > len(listed.actions):
        blocks.append(ContextBlock(elements=[mrkdwn(f"…and {listed.total - len(listed.actions)} more, due later.")]))
    return text, within_block_limit(blocks)
