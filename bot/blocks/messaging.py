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

from bot.blocks.common import local_time, mrkdwn, quote, static_options, user_text, within_block_limit
from bot.blocks.ids import MessagingIds as Ids
from bot.results.messaging import (
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
    AskResults,
    AskSent,
    AskView,
)

BUTTON_STYLES = {"resonated": "primary", "flat": "danger"}
EMOJI = {"resonated": ":large_green_circle:", "mixed": ":large_yellow_circle:", "flat": ":red_circle:",
         "not_used": ":white_circle:"}


class ReactionValue(BaseModel):
    """A card button's value: the ask and the reaction clicked."""

    a: int
    r: str


class AnswerMetadata(BaseModel):
    """The answer modal's private_metadata: the ask, and the card the click came from."""

    a: int
    channel: str | None = None
    ts: str | None = None


def ask_modal(*, default_channel: str | None, usergroups: list[tuple[str, str]]) -> View:
    """`/messaging ask`: what is asked about, whom to ask, and for how long."""
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
                                                        initial_value=str(DEFAULT_DAYS), min_value="1",
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
    answers = results.answers
    if not results.named:
        # Grouped by reaction rather than latest first, so the order can't be matched to who answered when.
        answers = tuple(sorted(answers, key=lambda a: REACTION_ORDER[a.reaction]))
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=f":lock: Shown without names: only <@{view.asker_user_id}>, who asked, sees who answered.")]))
    if not answers:
        blocks.append(SectionBlock(text="Nobody has answered yet."))
    blocks.extend(SectionBlock(text=mrkdwn(_answer_line(answer, named=results.named))) for answer in answers)
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
    if quotes:
        blocks.append(SectionBlock(text="*What buyers said*\n" + "\n".join(
            f"{EMOJI[a.reaction]} <@{a.rep_user_id}>\n{quote(a.quote, 500)}" for a in quotes[:best])[:2900]))
    if suggestions:
        blocks.append(SectionBlock(text="*Suggested changes*\n" + "\n".join(
            f"• {user_text(a.suggestion, 500)} (<@{a.rep_user_id}>)" for a in suggestions[:best])[:2900]))
    more = len(quotes) - best
    if more > 0:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"…and {more} more quotes")]))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(
        text=f"`/messaging results #{view.id}` shows every answer.")]))
    return text, blocks
