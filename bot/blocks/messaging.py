"""Block Kit for messaging feedback: the ask modal, the card, the answer modal, lists and summaries."""

from __future__ import annotations

from pydantic import BaseModel
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ContextBlock,
    ConversationSelectElement,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    NumberInputElement,
    PlainTextInputElement,
    RadioButtonsElement,
    SectionBlock,
    StaticSelectElement,
    UserMultiSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks.common import (
    MESSAGE_MAX_BLOCKS,
    listed_text,
    local_time,
    mrkdwn,
    quote,
    static_options,
    user_text,
    within_block_limit,
)
from bot.blocks.ids import MessagingIds as Ids
from bot.blocks.loop import log_action_button
from bot.results import RecordId
from bot.results.actions import ActionPrompt
from bot.results.messaging import (
    CHANGE_MAX,
    DEFAULT_DAYS,
    DESCRIPTION_MAX,
    LINK_MAX,
    MAX_DAYS,
    NAME_MAX,
    PLACES,
    QUOTE_MAX,
    REACTIONS,
    STAGES,
    AnswerForm,
    AskChange,
    AskResults,
    AskSent,
    AskVersion,
    AskView,
    ChangeForm,
    ChangePosted,
    VersionComparison,
)

BUTTON_STYLES = {"resonated": "primary", "flat": "danger"}
EMOJI = {"resonated": ":large_green_circle:", "mixed": ":large_yellow_circle:", "flat": ":red_circle:",
         "not_used": ":white_circle:"}


class ReactionValue(BaseModel):
    """A card button's value: the ask and the reaction clicked."""

    a: RecordId
    r: str


class AnswerMetadata(BaseModel):
    """The answer modal's private_metadata: the ask, and the card the click came from."""

    a: RecordId
    channel: str | None = None
    ts: str | None = None


def ask_modal(*, default_channel: str | None, usergroups: list[tuple[str, str]],
              earlier_asks: list[tuple[int, str]] | None = None, default_days: int = DEFAULT_DAYS) -> View:
    """`/messaging ask`: what is asked about, whom to ask, for how long, and which earlier ask it follows."""
    blocks: list[Block] = [
        InputBlock(block_id=Ids.NAME, label="What are you asking about?",
                   element=PlainTextInputElement(action_id=Ids.NAME, max_length=NAME_MAX,
                                                 placeholder="Q4 ROI talk track")),
        InputBlock(block_id=Ids.LINK, label="Link", optional=True,
                   element=PlainTextInputElement(action_id=Ids.LINK, max_length=LINK_MAX,
                                                 placeholder="https://…")),
        InputBlock(block_id=Ids.DESCRIPTION, label="The message, or a short description", optional=True,
                   element=PlainTextInputElement(action_id=Ids.DESCRIPTION, multiline=True,
                                                 max_length=DESCRIPTION_MAX)),
    ]
    if earlier_asks:
        blocks.append(InputBlock(
            block_id=Ids.PREVIOUS, label="New version of", optional=True,
            hint="If this is a reworked version of something you asked about before, pick that ask: results "
                 "and the digest then show both versions' resonance side by side.",
            element=StaticSelectElement(action_id=Ids.PREVIOUS, placeholder="An earlier ask", options=static_options(
                {str(ask_id): f"#{ask_id} {name}" for ask_id, name in earlier_asks[:100]}))))
    blocks += [
        InputBlock(block_id=Ids.CHANNEL, label="Post in a channel", optional=True,
                   hint="Or leave it empty and pick people or a user group to DM.",
                   element=ConversationSelectElement(action_id=Ids.CHANNEL, initial_conversation=default_channel,
                                                     filter={"include": ["public", "private"]})),
        InputBlock(block_id=Ids.PEOPLE, label="…or DM these people", optional=True,
                   element=UserMultiSelectElement(action_id=Ids.PEOPLE, placeholder="Pick reps")),
    ]
    if usergroups:
        blocks.append(InputBlock(block_id=Ids.GROUP, label="…or DM a user group", optional=True,
                                 element=StaticSelectElement(action_id=Ids.GROUP, options=static_options(
                                     {group_id: f"@{handle}" for group_id, handle in usergroups[:100]}))))
    blocks.append(InputBlock(block_id=Ids.DAYS, label="Days to keep it open",
                             element=NumberInputElement(action_id=Ids.DAYS, is_decimal_allowed=False,
                                                        initial_value=str(default_days), min_value="1",
                                                        max_value=str(MAX_DAYS))))
    return View(type="modal", callback_id=Ids.ASK_MODAL, title="Ask sales", submit="Ask", close="Cancel",
                blocks=blocks)


def ask_sent(sent: AskSent, *, names_max: int = 10) -> tuple[str, list[Block]]:
    """The asker's confirmation: where the ask went, and who was left out for not being in sales."""
    view = sent.ask
    where = f"<#{view.channel_id}>" if view.channel_id else (
        "1 person by DM" if len(sent.recipients) == 1 else f"{len(sent.recipients)} people by DM")
    text = (f"Your ask “{user_text(view.name, NAME_MAX)}” is out to {where}. "
            f"`/messaging results #{view.id}` shows the answers.")
    if sent.left_out:
        names = ", ".join(f"<@{user_id}>" for user_id in sent.left_out[:names_max])
        more = len(sent.left_out) - names_max
        names += f" and {more} more" if more > 0 else ""
        text += f"\nNot sent to {names}: asks go to the sales team, and they aren't in it."
    return text, [SectionBlock(text=mrkdwn(text))]


def reaction_buttons(view: AskView, *, block_id: str) -> ActionsBlock:
    """The four answer buttons; a click opens the answer modal prefilled with that reaction."""
    return ActionsBlock(block_id=block_id, elements=[
        ButtonElement(action_id=f"{Ids.REACT}.{reaction}", text=label, style=BUTTON_STYLES.get(reaction),
                      value=ReactionValue(a=view.id, r=reaction).model_dump_json())
        for reaction, label in REACTIONS.items()
    ])


def tally_line(view: AskView) -> str:
    counts = " · ".join(f"{EMOJI[r]} {label} {view.tally[r]}" for r, label in REACTIONS.items())
    rate = f" · resonance {view.resonance_rate:.0%}" if view.resonance_rate is not None else ""
    people = "1 rep answered" if view.answered == 1 else f"{view.answered} reps answered"
    return f"{people}: {counts}{rate}"


def _about(view: AskView) -> list[Block]:
    text = f"*{user_text(view.name, NAME_MAX)}*"
    if view.description:
        text += "\n" + quote(view.description, DESCRIPTION_MAX)
    if view.link:
        text += f"\n{user_text(view.link, LINK_MAX)}"
    return [SectionBlock(text=text)]


def ask_card(view: AskView, *, your_reaction: str | None = None) -> tuple[str, list[Block]]:
    """The "How did this land with buyers?" card, with live tallies (no names), open or closed."""
    text = f"How did this land with buyers? {user_text(view.name, NAME_MAX)}"
    blocks: list[Block] = [SectionBlock(text=":speech_balloon: *How did this land with buyers?*"), *_about(view)]
    if view.closed:
        blocks.append(SectionBlock(text=f":lock: Closed {local_time(view.closes_at)}. Thanks for answering!"))
    else:
        blocks.append(reaction_buttons(view, block_id=f"{Ids.REACT}.{view.id}"))
    if your_reaction:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=f":white_check_mark: You answered *{REACTIONS[your_reaction]}*. Click again to change it.")]))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=tally_line(view))]))
    closes = "" if view.closed else f" · open until {local_time(view.closes_at)}"
    blocks.append(ContextBlock(elements=[MarkdownTextObject(
        text=f"Asked by <@{view.asker_user_id}>{closes} · answers are not anonymous: the asker sees your name"
    )]))
    return text, blocks


def answer_modal(form: AnswerForm, metadata: AnswerMetadata) -> View:
    """The short modal a card button opens, prefilled with the clicked reaction (and an earlier answer)."""
    previous = form.previous
    reaction_options = static_options(REACTIONS)
    place_options = static_options(PLACES)
    stage_options = static_options(STAGES)
    chosen = {o.value: o for o in place_options}
    blocks: list[Block] = [
        SectionBlock(text=f"*{user_text(form.ask.name, NAME_MAX)}*"),
        InputBlock(block_id=Ids.REACTION, label="How did it land?", element=RadioButtonsElement(
            action_id=Ids.REACTION, options=reaction_options,
            initial_option=next(o for o in reaction_options if o.value == form.reaction))),
        InputBlock(block_id=Ids.USED_IN, label="Where did you use it?", optional=True,
                   hint="Needed unless you haven't used it yet.", element=CheckboxesElement(
                       action_id=Ids.USED_IN, options=place_options,
                       initial_options=[chosen[p] for p in previous.used_in] if previous and previous.used_in
                       else None)),
        InputBlock(block_id=Ids.STAGE, label="Buyer stage", optional=True, element=StaticSelectElement(
            action_id=Ids.STAGE, options=stage_options, placeholder="Pick a stage",
            initial_option=next((o for o in stage_options if previous and o.value == previous.stage), None))),
        InputBlock(block_id=Ids.QUOTE, label="What did the buyer say?", optional=True, element=PlainTextInputElement(
            action_id=Ids.QUOTE, multiline=True, max_length=QUOTE_MAX,
            initial_value=previous.quote if previous and previous.quote else None)),
        InputBlock(block_id=Ids.SUGGESTION, label="What would you change?", optional=True,
                   element=PlainTextInputElement(action_id=Ids.SUGGESTION, multiline=True, max_length=QUOTE_MAX,
                                                 initial_value=previous.suggestion if previous and previous.suggestion
                                                 else None)),
        ContextBlock(elements=[MarkdownTextObject(text=(
            f":eyes: Not anonymous: <@{form.ask.asker_user_id}> will see your name with this answer "
            "(leaders and admins see answers without names). "
            "You can change it until the ask closes."))]),
    ]
    return View(type="modal", callback_id=Ids.ANSWER_MODAL, title="How did it land?", submit="Send",
                close="Cancel", private_metadata=metadata.model_dump_json(exclude_none=True), blocks=blocks)


def answer_thanks(view: AskView, reaction: str) -> str:
    return (f":white_check_mark: Thanks! Recorded *{REACTIONS[reaction]}* for “{user_text(view.name, NAME_MAX)}”. "
            f"You can change it until {local_time(view.closes_at)}.")


def open_asks_message(asks: list[AskView]) -> tuple[str, list[Block]]:
    """`/messaging`: open asks with buttons to answer."""
    if not asks:
        text = "No messaging asks are open. Marketers can start one with `/messaging ask`."
        return text, [SectionBlock(text=text)]
    text = f"{len(asks)} open messaging ask(s)"
    blocks: list[Block] = [HeaderBlock(text="Open messaging asks")]
    for view in asks:
        _, card = ask_card(view)
        blocks.extend([*card[1:], DividerBlock()])
    return text, within_block_limit(blocks)


def my_asks_message(asks: list[AskView]) -> tuple[str, list[Block]]:
    """`/messaging results`: the asker's asks with tallies."""
    if not asks:
        text = "You haven't asked about any messaging yet. Start with `/messaging ask`."
        return text, [SectionBlock(text=text)]
    blocks: list[Block] = [HeaderBlock(text="Your messaging asks")]
    for view in asks:
        state = "closed" if view.closed else f"open until {local_time(view.closes_at)}"
        blocks.append(SectionBlock(text=f"*#{view.id} {user_text(view.name, NAME_MAX)}* · {state}\n{tally_line(view)}"))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(
        text="`/messaging results #<number>` shows every answer with names, quotes and suggestions.")]))
    return "Your messaging asks", within_block_limit(blocks)


def _answer_line(answer, *, named: bool = True) -> str:
    where = ", ".join(PLACES[p] for p in answer.used_in)
    details = " · ".join(filter(None, [where, STAGES.get(answer.stage or "")]))
    who = f" <@{answer.rep_user_id}> ·" if named else ""
    line = f"{EMOJI[answer.reaction]}{who} *{REACTIONS[answer.reaction]}*"
    line += f" · {details}" if details else ""
    if answer.quote:
        line += "\n" + quote(answer.quote, 900)
    if answer.suggestion:
        line += f"\n:bulb: {user_text(answer.suggestion, 900)}"
    return line


def _where_used(usage: dict[str, int]) -> str:
    return ", ".join(f"{PLACES[p]} {n}" for p, n in usage.items()) or "nowhere yet"


REACTION_ORDER = {reaction: n for n, reaction in enumerate(REACTIONS)}


def ask_results_message(results: AskResults) -> tuple[str, list[Block]]:
    """`/messaging results <ask>`: every answer with quote and suggestion; with names only for the asker."""
    view = results.ask
    text = f"Answers to {user_text(view.name, NAME_MAX)}"
    context = f"{tally_line(view)} · where used: {_where_used(results.usage)}"
    blocks: list[Block] = [SectionBlock(text=mrkdwn(f"*#{view.id} {user_text(view.name, NAME_MAX)}*")),
                           ContextBlock(elements=[MarkdownTextObject(text=context)])]
    if results.versions:
        blocks.append(_versions_block(results.versions))
    if results.change:
        blocks.append(SectionBlock(text=mrkdwn(_change_text(results.change))))
    answers = results.answers
    if not results.named:
        # Grouped by reaction rather than latest first, so the order can't be matched to who answered when.
        answers = tuple(sorted(answers, key=lambda a: REACTION_ORDER[a.reaction]))
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=f":lock: Shown without names: only <@{view.asker_user_id}>, who asked, sees who answered.")]))
    if not answers:
        blocks.append(SectionBlock(text="Nobody has answered yet."))
    blocks.extend(SectionBlock(text=mrkdwn(_answer_line(answer, named=results.named))) for answer in answers)
    if results.may_post_change and view.closed:  # last, past any cut: they survive a long list of answers
        return text, [*within_block_limit(blocks, MESSAGE_MAX_BLOCKS - 1), loop_buttons(view)]
    return text, within_block_limit(blocks)


def ask_summary_message(results: AskResults, *, best: int = 5) -> tuple[str, list[Block]]:
    """The asker's DM when the ask closes: tallies, resonance, where used, the best quotes and suggestions."""
    view = results.ask
    text = f"Your ask “{user_text(view.name, NAME_MAX)}” has closed"
    rate = f"{view.resonance_rate:.0%}" if view.resonance_rate is not None else "n/a (nobody used it yet)"
    where = _where_used(results.usage)
    order = {"resonated": 0, "mixed": 1, "flat": 2, "not_used": 3}
    quotes = sorted((a for a in results.answers if a.quote), key=lambda a: order[a.reaction])
    suggestions = [a for a in results.answers if a.suggestion]
    blocks: list[Block] = [
        SectionBlock(text=f":checkered_flag: {text}."),
        SectionBlock(fields=[f"*Answers*\n{view.answered}", f"*Resonance* (resonated ÷ used)\n{rate}",
                             f"*Where used*\n{where}"]),
        ContextBlock(elements=[MarkdownTextObject(text=tally_line(view))]),
    ]
    if results.versions:
        blocks.append(_versions_block(results.versions))
    if quotes:
        blocks.append(SectionBlock(text=mrkdwn(listed_text("*What buyers said*", [
            f"{EMOJI[a.reaction]} <@{a.rep_user_id}>\n{quote(a.quote, 500)}" for a in quotes[:best]]))))
    if suggestions:
        blocks.append(SectionBlock(text=mrkdwn(listed_text("*Suggested changes*", [
            f"• {user_text(a.suggestion, 500)} (<@{a.rep_user_id}>)" for a in suggestions[:best]]))))
    more = len(quotes) - best
    if more > 0:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"…and {more} more quotes")]))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(
        text=f"`/messaging results #{view.id}` shows every answer. Changed something because of them? "
             "*Post what we changed* tells everyone who answered.")]))
    blocks.append(loop_buttons(view))
    return text, blocks


# --- the loop closes: the reminder, versions, "what we changed" ------------------------------------------


def ask_reminder_message(view: AskView) -> tuple[str, list[Block]]:
    """The one reminder to a rep who hasn't answered: the ask's own card, with its buttons, under a nudge."""
    text, card = ask_card(view)
    nudge = SectionBlock(text=mrkdwn(
        f":alarm_clock: Reminder: <@{view.asker_user_id}> would still like to hear how "
        f"“{user_text(view.name, NAME_MAX)}” landed with your buyers. It takes a click, open until "
        f"{local_time(view.closes_at)}."))
    return f"Reminder: {text}", [nudge, *card]


def _resonance(version: AskVersion) -> str:
    return f"{version.resonance:.0%}" if version.resonance is not None else "not used yet"


def version_line(versions: VersionComparison) -> str:
    """ "v2 resonated 67% (6 answers) vs v1 33% (9)" """
    this, earlier = versions.this, versions.earlier
    answers = "1 answer" if this.answered == 1 else f"{this.answered} answers"
    return (f"v{this.number} resonated {_resonance(this)} ({answers}) vs v{earlier.number} "
            f"{_resonance(earlier)} ({earlier.answered})")


def _versions_block(versions: VersionComparison) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=(
        f":repeat: {version_line(versions)} · v{versions.earlier.number} was "
        f"#{versions.earlier.ask_id} “{user_text(versions.earlier.name, NAME_MAX)}”"))])


def _change_text(change: AskChange) -> str:
    text = "*What we changed*\n" + quote(change.note, CHANGE_MAX)
    if change.link:
        text += f"\n{user_text(change.link, LINK_MAX)}"
    return text


def loop_buttons(view: AskView) -> ActionsBlock:
    """Under the asker's summary: tell the reps who answered what changed, and log an action."""
    name = view.name
    return ActionsBlock(block_id=f"{Ids.CHANGE}.{view.id}", elements=[
        ButtonElement(action_id=Ids.CHANGE, text="Post what we changed", style="primary", value=str(view.id)),
        log_action_button(ActionPrompt(kind="ask", ref=str(view.id), label=name, title=f"Rework “{name}”")),
    ])


def change_modal(form: ChangeForm) -> View:
    """"Post what we changed": the text (required) and a link (optional), sent to the reps who answered."""
    reps = "1 rep who answered" if form.answerers == 1 else f"{form.answerers} reps who answered"
    about = f"*{user_text(form.ask_name, NAME_MAX)}*\n" + (
        f"Tell the {reps} what you changed because of their feedback. They get it by DM, with your name."
        if form.answerers else "Nobody answered this ask, so this is only kept: `/messaging results` shows it.")
    if form.note:
        about += "\nAlready sent: editing it updates the DMs they have, without notifying them again."
    blocks: list[Block] = [
        SectionBlock(text=mrkdwn(about)),
        InputBlock(block_id=Ids.CHANGE_NOTE, label="What changed?", element=PlainTextInputElement(
            action_id=Ids.CHANGE_NOTE, multiline=True, max_length=CHANGE_MAX, initial_value=form.note,
            placeholder="Led with the 6-month payback; cut the pricing slide")),
        InputBlock(block_id=Ids.CHANGE_LINK, label="Link to the new version", optional=True,
                   element=PlainTextInputElement(action_id=Ids.CHANGE_LINK, max_length=LINK_MAX,
                                                 initial_value=form.link, placeholder="https://…")),
    ]
    return View(type="modal", callback_id=Ids.CHANGE_MODAL, title="What we changed",
                submit="Update" if form.note else "Send", close="Cancel", private_metadata=str(form.ask_id),
                blocks=blocks)


def change_posted_view(posted: ChangePosted) -> View:
    """What the modal turns into once sent."""
    name = user_text(posted.ask_name, NAME_MAX)
    reps = "1 rep" if posted.sent_to == 1 else f"{posted.sent_to} reps"
    if posted.unchanged:
        text = f":white_check_mark: Already sent: the {reps} who answered “{name}” have this text."
    elif posted.edited:
        text = f":white_check_mark: Updated. The DMs of the {reps} who answered “{name}” now show the new text."
    elif posted.sent_to:
        text = f":white_check_mark: Sent to the {reps} who answered “{name}”. Thanks for closing the loop!"
    else:
        text = (f":white_check_mark: Saved. Nobody answered “{name}”, so there is nobody to tell; it shows in "
                "`/messaging results`.")
    return View(type="modal", title="What we changed", close="Done", blocks=[SectionBlock(text=mrkdwn(text))])


def ask_change_message(change: AskChange) -> tuple[str, list[Block]]:
    """The DM to each rep who answered: what the asker changed because of the answers."""
    name = user_text(change.ask_name, NAME_MAX)
    text = f"What changed after your feedback on “{name}”"
    blocks: list[Block] = [
        SectionBlock(text=mrkdwn(f":hammer_and_wrench: You answered <@{change.asker_user_id}>'s ask about "
                                 f"“{name}”. Here is what changed because of it.")),
        SectionBlock(text=mrkdwn(_change_text(change))),
        ContextBlock(elements=[MarkdownTextObject(text="Thanks for answering: this is what your feedback did.")]),
    ]
    return text, blocks


def messaging_help() -> tuple[str, list[Block]]:
    """`/messaging help`: every part of an ask's loop, in the order a marketer meets it."""
    text = "How messaging asks work"
    body = (
        "*Marketers*\n"
        "• `/messaging ask`: ask sales how a message, talk track or asset landed with buyers. Post it in a "
        "channel or DM reps. If it is a reworked version of something you asked about before, pick that ask "
        "under *New version of*: results and the digest then show both versions' resonance side by side.\n"
        "• `/messaging results` lists your asks; `/messaging results #12` (or part of a name) shows every "
        "answer with names.\n"
        "• When your ask closes you get a summary. *Post what we changed* sends what you changed, and an "
        "optional link, by DM to everyone who answered; editing it later updates those DMs without "
        "notifying them again. *Log action* records an action it led to.\n"
        "*Reps*\n"
        "• `/messaging` lists open asks; answer with the card's buttons. Reps who haven't answered get one "
        "reminder (an admin sets when, in `/alignment setup`).\n"
        "Answers are not anonymous: the asker sees who said what; leaders and admins see them without names."
    )
    return text, [SectionBlock(text=f":speech_balloon: *{text}*"), SectionBlock(text=body)]
