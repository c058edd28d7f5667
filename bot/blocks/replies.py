"""Block Kit for replies to feedback: the reply modal, the reply shown on a post, and the DM to its author."""

from __future__ import annotations

from pydantic import BaseModel
from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.blocks.common import link, local_time, mrkdwn, quote, user_text
from bot.blocks.ids import ReplyIds as Ids
from bot.results.replies import INTEL_KINDS, LINK_MAX, NOTE_MAX, ReplyDm, ReplyForm, ReplyShown, SubjectShown

# How each status reads once given, and its mark.
STATUS_SHOWN = {"on_it": "On it", "fixed": "Fixed", "wont_fix": "Won't fix", "replied": "Replied"}
STATUS_MARK = {"on_it": ":hourglass_flowing_sand:", "fixed": ":white_check_mark:", "wont_fix": ":no_entry_sign:",
               "replied": ":speech_balloon:"}
# How each status is offered in the modal.
STATUS_OFFERED = {"on_it": "On it: we're looking into this", "fixed": "Fixed: we changed something",
                  "wont_fix": "Won't fix: and here is why", "replied": "Reply: just a note"}


class ReplyMetadata(BaseModel):
    """The reply modal's private_metadata: the subject, as its button carried it ("rating:42")."""

    s: str


def _status_option(status: str) -> Option:
    return Option(value=status, text=PlainTextObject(text=STATUS_OFFERED[status]))


def subject_line(subject: SubjectShown) -> str:
    """The feedback as one mrkdwn line: "*ACME-1* · 2/5 · rated by <@U7>"."""
    if subject.subject.kind == "rating":
        return f"*Lead {user_text(subject.title, 200)}* · {subject.rating}/5 · rated by <@{subject.author_user_id}>"
    kind = INTEL_KINDS.get(subject.intel_kind or "", "Field intel")
    return f"*{kind}:* {user_text(subject.title, 200)} · sent by <@{subject.author_user_id}>"


def reply_block(reply: ReplyShown) -> SectionBlock:
    """The subject's current reply on its post: status, who and when, the note and the link."""
    lines = [f"{STATUS_MARK[reply.status]} *{STATUS_SHOWN[reply.status]}* by <@{reply.replied_by}> · "
             f"{local_time(reply.replied_at)}"]
    if reply.note:
        lines.append(quote(reply.note, 2000))
    if reply.link:
        lines.append(link(reply.link, "Link to the change"))
    return SectionBlock(text=mrkdwn("\n".join(lines)))


def reply_modal(form: ReplyForm, metadata: ReplyMetadata) -> View:
    """The short modal a reply button opens: the status (as clicked, changeable), a note and a link."""
    options = [_status_option(status) for status in STATUS_OFFERED]
    blocks: list[Block] = [SectionBlock(text=mrkdwn(subject_line(form.subject)))]
    if form.current:
        blocks.append(ContextBlock(elements=[mrkdwn(
            f"Currently {STATUS_MARK[form.current.status]} *{STATUS_SHOWN[form.current.status]}* by "
            f"<@{form.current.replied_by}>. Sending replaces that reply.")]))
    blocks += [
        InputBlock(block_id=Ids.STATUS, label="Status", element=RadioButtonsElement(
            action_id=Ids.STATUS, options=options,
            initial_option=next(option for option in options if option.value == form.status))),
        InputBlock(block_id=Ids.NOTE, label="Note", optional=True,
                   hint="Needed for “Won't fix” and “Reply”. Whoever gave the feedback gets it by DM.",
                   element=PlainTextInputElement(action_id=Ids.NOTE, multiline=True, max_length=NOTE_MAX,
                                                 placeholder="What you did, or why not")),
        InputBlock(block_id=Ids.LINK, label="Link to the change", optional=True,
                   element=PlainTextInputElement(action_id=Ids.LINK, max_length=LINK_MAX,
                                                 placeholder="https://…")),
    ]
    return View(type="modal", callback_id=Ids.MODAL, title="Reply to feedback", submit="Send", close="Cancel",
                private_metadata=metadata.model_dump_json(), blocks=blocks)


def reply_dm_message(dm: ReplyDm) -> tuple[str, list[Block]]:
    """The DM to whoever gave the feedback: who replied, the status, the note and the link."""
    reply, status = dm.reply, STATUS_SHOWN[dm.reply.status]
    about = user_text(dm.subject.about, 300)
    if reply.status == "replied":
        text = headline = f"<@{reply.replied_by}> replied to {about}"
    else:
        text, headline = (f"<@{reply.replied_by}> marked {about} {status}",
                          f"<@{reply.replied_by}> marked {about} *{status}*")
    headline = f"{STATUS_MARK[reply.status]} {headline}"
    blocks: list[Block] = [SectionBlock(text=mrkdwn(headline))]
    if reply.note:
        blocks.append(SectionBlock(text=mrkdwn(quote(reply.note, 2000))))
    if reply.link:
        blocks.append(SectionBlock(text=mrkdwn(link(reply.link, "Link to the change"))))
    blocks.append(ContextBlock(elements=[mrkdwn(
        "Your feedback reached marketing, and this is what came of it. Thanks for taking the time.")]))
    return text, blocks
