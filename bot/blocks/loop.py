"""The buttons that close the loop, shared by every surface that carries them."""

from __future__ import annotations

from slack_sdk.models.blocks import ActionsBlock, ButtonElement

from bot.blocks.ids import ActionIds, ReplyIds
from bot.results.actions import ActionPrompt
from bot.results.replies import REPLY_STATUSES, Subject


def log_action_button(prompt: ActionPrompt) -> ButtonElement:
    """"Log action": opens the action modal prefilled with what prompted it."""
    return ButtonElement(action_id=ActionIds.NEW, text="Log action", value=prompt.to_value())


def reply_buttons(subject: Subject, prompt: ActionPrompt) -> ActionsBlock:
    """On it / Fixed / Won't fix / Reply, and Log action, under a piece of feedback."""
    buttons = [
        ButtonElement(action_id=f"{ReplyIds.OPEN}.{status}", text=label, value=subject.to_value(),
                      style="primary" if status == "fixed" else None)
        for status, label in REPLY_STATUSES.items()
    ]
    return ActionsBlock(block_id=f"reply.{subject.kind}.{subject.id}", elements=[*buttons, log_action_button(prompt)])
