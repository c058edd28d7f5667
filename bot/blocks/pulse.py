"""Block Kit for pulse checks: the DM prompt, reminder, `/pulse` modal, comment modal and results."""

from __future__ import annotations

from pydantic import BaseModel
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.blocks.common import listed_text, local_time, mrkdwn, quote, user_text, within_block_limit
from bot.blocks.ids import PulseIds as Ids
from bot.blocks.loop import log_action_button
from bot.results import RecordId
from bot.results.actions import ActionPrompt
from bot.results.pulse import (
    AWAY_TEXT,
    COMMENT_MAX,
    SCALE,
    PulseButtonValue,
    PulseFormState,
    PulsePrompt,
    PulseResults,
    gap_in_words,
)

COMMENTS_SHOWN = 10  # a team's comments in the results; the rest are counted


class PulseFormMetadata(BaseModel):
    r: RecordId


def anonymity_note(threshold: int) -> str:
    return (f":lock: Your answers are anonymous: they are stored without your name, and a team's scores "
            f"are shown only once at least {threshold} people have answered. Crossfeed does record *that* "
            "you answered, so it knows not to remind you, but never alongside what you answered.")


def _button(prompt: PulsePrompt, question: int, score: int) -> ButtonElement:
    chosen = prompt.chosen.get(question) == score
    value = PulseButtonValue(r=prompt.round_id, q=question, s=score)
    return ButtonElement(
        action_id=f"{Ids.ANSWER}.{question}.{score}", text=f"{score}", style="primary" if chosen else None,
        value=value.model_dump_json(exclude_none=True),
    )


def pulse_prompt_message(prompt: PulsePrompt) -> tuple[str, list[Block]]:
    """The pulse DM: each question answered 1–5 by buttons in the message, plus a comment button."""
    text = "Your weekly alignment pulse: " + " ".join(user_text(q, 300) for q in prompt.questions)
    blocks: list[Block] = [
        SectionBlock(text=f"*Weekly alignment pulse* · {len(prompt.questions)} quick questions, "
                          "1 = not at all, 5 = completely."),
    ]
    for index, question in enumerate(prompt.questions):
        answered = prompt.chosen.get(index)
        mark = f"  :white_check_mark: _you said {answered}_" if answered else ""
        blocks.append(SectionBlock(text=f"*{user_text(question, 500)}*{mark}"))
        blocks.append(ActionsBlock(block_id=f"{Ids.ANSWER}.{index}",
                                   elements=[_button(prompt, index, score) for score in SCALE]))
    comment_value = PulseButtonValue(r=prompt.round_id).model_dump_json(exclude_none=True)
    blocks.append(ActionsBlock(elements=[ButtonElement(
        action_id=Ids.COMMENT, value=comment_value,
        text="Edit your comment" if prompt.has_comment else "Add a comment",
    )]))
    done = len(prompt.chosen) == len(prompt.questions)
    status = ":tada: All answered, thank you. " if done else ""
    blocks.append(ContextBlock(elements=[MarkdownTextObject(
        text=f"{status}You can change your answers until {local_time(prompt.closes_at)}."
    )]))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=anonymity_note(prompt.threshold))]))
    return text, blocks


def pulse_reminder_message(closes_at) -> tuple[str, list[Block]]:
    text = "Reminder: this week's pulse is still waiting for you"
    return text, [SectionBlock(text=(
        f":wave: {text}. It takes ten seconds: answer in the pulse message above, or with `/pulse`. "
        f"It closes {local_time(closes_at)}."
    ))]


def comment_modal(prompt: PulsePrompt) -> View:
    metadata = PulseButtonValue(r=prompt.round_id).model_dump_json(exclude_none=True)
    return View(
        type="modal", callback_id=Ids.COMMENT_MODAL, title="Pulse comment", submit="Save", close="Cancel",
        private_metadata=metadata,
        blocks=[
            InputBlock(block_id=Ids.COMMENT_TEXT, label=prompt.comment_prompt[:2000],
                       element=PlainTextInputElement(action_id=Ids.COMMENT_TEXT, multiline=True,
                                                     max_length=COMMENT_MAX, initial_value=prompt.comment)),
            ContextBlock(elements=[MarkdownTextObject(
                text=anonymity_note(prompt.threshold) + " Don't put your name in it if you'd rather stay anonymous."
            )]),
        ],
    )


def pulse_form_modal(prompt: PulsePrompt) -> View:
    """`/pulse`: the open round's questions in a modal, showing the person's answers so far to change."""
    options = {score: Option(value=str(score), text=PlainTextObject(text=f"{score} · {label}"))
               for score, label in SCALE.items()}
    blocks: list[Block] = [
        InputBlock(block_id=f"{Ids.QUESTION}{index}", label=question[:2000],
                   element=RadioButtonsElement(action_id=f"{Ids.QUESTION}{index}", options=list(options.values()),
                                               initial_option=options.get(prompt.chosen.get(index))))
        for index, question in enumerate(prompt.questions)
    ]
    blocks.append(InputBlock(block_id=Ids.COMMENT_TEXT, label=prompt.comment_prompt[:2000], optional=True,
                             element=PlainTextInputElement(action_id=Ids.COMMENT_TEXT, multiline=True,
                                                           max_length=COMMENT_MAX, initial_value=prompt.comment)))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=anonymity_note(prompt.threshold))]))
    return View(type="modal", callback_id=Ids.FORM, title="Alignment pulse", submit="Send", close="Cancel",
                private_metadata=PulseFormMetadata(r=prompt.round_id).model_dump_json(), blocks=blocks)


def pulse_state_message(state: PulseFormState) -> tuple[str, list[Block]]:
    """`/pulse` when there is nothing to answer: why, and what happens next."""
    if state.status == "not_set_up":
        text = ("Pulse checks aren't set up here yet: they need a sales and a marketing team. An admin sets "
                "them up with `/alignment setup`, or with `/alignment team add @people sales` and "
                "`/alignment team add @people marketing` (`/alignment help` lists everything).")
    elif state.status == "none_open":
        text = f"No pulse is open right now. The next one opens {local_time(state.next_opening)}."
    elif state.status == "away":
        text = AWAY_TEXT
    elif state.status == "not_asked":
        text = ("This pulse went to the sales and marketing teams, and you're in neither. "
                "An admin can add you in `/alignment setup` or with `/alignment team add`.")
    else:
        text = "There's nothing to answer right now."
    return text, [SectionBlock(text=text)]


def _score(value: float | None) -> str:
    return f"*{value:.1f}*" if value is not None else "_hidden_"


def pulse_results_message(results: PulseResults | None) -> tuple[str, list[Block]]:
    """`/pulse results`: the last closed round per team, within the anonymity thresholds."""
    if results is None:
        text = "No pulse round has closed yet, so there are no results to show."
        return text, [SectionBlock(text=text)]
    text = f"Pulse results for {results.period}"
    blocks: list[Block] = [HeaderBlock(text=text)]
    for team in results.teams:
        rate = team.participation()
        blocks.append(SectionBlock(text=f"*{user_text(team.name, 40)}* · {rate}"))
        if team.shown:
            blocks.append(SectionBlock(fields=[
                f"{user_text(question, 1900)}\n{_score(score)} / 5" for question, score in team.scores[:10]
            ]))
        else:
            blocks.append(ContextBlock(elements=[MarkdownTextObject(text=(
                f"Not enough answers to show without identifying people (scores need {results.threshold})."
            ))]))
        if team.comments is None:
            if team.shown:
                blocks.append(ContextBlock(elements=[MarkdownTextObject(text=(
                    f"Comments are shown once {results.comment_threshold} people have answered."
                ))]))
        elif team.comments:
            lines = [quote(comment, 500) for comment in team.comments[:COMMENTS_SHOWN]]
            more = max(len(team.comments) - COMMENTS_SHOWN, 0)
            blocks.append(SectionBlock(text=mrkdwn(listed_text("", lines, more))))
        blocks.append(DividerBlock())
    if results.gap is not None:
        sales, marketing = (team.name for team in results.teams)
        direction = "more" if results.gap > 0 else "less"
        blocks.append(SectionBlock(text=(
            f"*Perception gap:* {user_text(sales, 40)} feels {abs(results.gap):.1f} points {direction} aligned "
            f"than {user_text(marketing, 40)} does." if results.gap else "*Perception gap:* none, both teams agree."
        )))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"Round closed {local_time(results.closes_at)}.")]))
    blocks.append(ActionsBlock(elements=[log_action_button(pulse_prompt(results))]))
    return text, within_block_limit(blocks)


def pulse_prompt(results: PulseResults) -> ActionPrompt:
    """What an action logged from a round's results answers: the round, and its perception gap when shown."""
    gap = gap_in_words(results)
    return ActionPrompt(kind="pulse", ref=results.period,
                        label=f"Pulse {results.period}" + (f": {gap}" if gap else ""))
