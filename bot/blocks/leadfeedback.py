"""Block Kit for /leadfeedback: the rating modal, confirmations, "mine", help and the lead feed."""

from __future__ import annotations

from pydantic import BaseModel
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    ExternalDataSelectElement,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    OptionGroup,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
    SectionBlock,
    StaticMultiSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks.common import SECTION_TEXT_MAX, escaped_within, local_time, mrkdwn, quote, user_text, within_block_limit
from bot.blocks.ids import LeadFeedbackIds as Ids
from bot.blocks.loop import reply_buttons
from bot.blocks.replies import reply_block
from bot.results import RecordId
from bot.results.actions import PROMPT_LABEL_MAX, TITLE_MAX, ActionPrompt
from bot.results.leads import (
    CAMPAIGN_MAX,
    LEAD_MAX,
    NOTE_MAX,
    QUICK_USAGE,
    LeadFormOptions,
    RatedLead,
    RatingStart,
)
from bot.results.replies import ReplyShown, Subject
from bot.text import truncate
from storage.defaults import RATING_LABELS


class LeadFormMetadata(BaseModel):
    """Carried in the modal's private_metadata: what is edited and where to confirm."""

    rating_id: RecordId | None = None
    response_url: str | None = None
    channel_id: str | None = None


class RatingButtonValue(BaseModel):
    """An Edit button's value."""

    rating_id: RecordId


def stars(rating: int) -> str:
    return "★" * rating + "☆" * (5 - rating)


def _rating_option(rating: int) -> Option:
    return Option(value=str(rating), text=PlainTextObject(text=f"{rating} · {RATING_LABELS[rating]}"))


def source_option(source_id: int, label: str) -> Option:
    return Option(value=f"id:{source_id}", text=PlainTextObject(text=label[:75]))


def new_source_option(typed: str, *, allow_new_sources: bool) -> Option:
    """The typed text itself: added as a source, or (unless admins allow that) kept under Other."""
    typed = typed[:60]
    shown = f"Add “{typed}”" if allow_new_sources else f"“{typed}” (under Other until an admin adds it)"
    return Option(value=f"new:{typed}", text=PlainTextObject(text=truncate(shown, 75)))


def lead_feedback_modal(
    options: LeadFormOptions, metadata: LeadFormMetadata, prefill: RatedLead | None = None,
    start: RatingStart | None = None,
) -> View:
    """The rating modal; with `prefill` it edits that rating, with `start` it rates that lead afresh."""
    reason_label = dict(options.bad_reasons + options.good_reasons)
    # Reasons the edited rating has that an admin has retired since: offered, so saving keeps them.
    retired = tuple((code, label) for code, label in zip(prefill.reason_codes, prefill.reasons, strict=True)
                    if code not in reason_label) if prefill else ()
    reason_label.update(retired)
    groups = [
        OptionGroup(label=title, options=[Option(value=code, text=label[:75]) for code, label in group])
        for title, group in (("Bad lead", options.bad_reasons), ("Good lead", options.good_reasons),
                             ("No longer offered", retired))
        if group
    ]
    initial_reasons = [Option(value=code, text=reason_label[code][:75])
                       for code in (prefill.reason_codes if prefill else ())]
    source = None
    known = prefill or start
    if known and known.source_text:
        # Sent back as typed, so saving keeps it (or files it under a source an admin has since added).
        source = new_source_option(known.source_text, allow_new_sources=options.allow_new_sources)
    elif known and known.source_id and known.source:
        source = source_option(known.source_id, known.source)
    blocks: list[Block] = [
        InputBlock(
            block_id=Ids.LEAD,
            label="Lead",
            hint="A CRM id, email, company or URL. Rating the same lead again updates your rating.",
            element=PlainTextInputElement(
                action_id=Ids.LEAD, max_length=LEAD_MAX, initial_value=known.lead_ref[:LEAD_MAX] if known else None,
                placeholder="ACME-4411, jane@acme.com or acme.com",
            ),
        ),
        InputBlock(
            block_id=Ids.RATING,
            label="How good was this lead?",
            element=RadioButtonsElement(
                action_id=Ids.RATING,
                options=[_rating_option(r) for r in range(1, 6)],
                initial_option=_rating_option(prefill.rating) if prefill else None,
            ),
        ),
        InputBlock(
            block_id=Ids.REASONS,
            label="Why?",
            optional=True,
            element=StaticMultiSelectElement(
                action_id=Ids.REASONS, placeholder="Pick reasons", option_groups=groups,
                initial_options=initial_reasons or None,
            ),
        ),
        InputBlock(
            block_id=Ids.SOURCE,
            label="Source",
            optional=True,
            hint=("Type to search, or type a new source to add it." if options.allow_new_sources else
                  "Type to search. One that isn't listed is kept under Other until an admin adds it."),
            element=ExternalDataSelectElement(
                action_id=Ids.SOURCE, placeholder="Webinar, paid search…", min_query_length=0,
                initial_option=source,
            ),
        ),
        InputBlock(
            block_id=Ids.CAMPAIGN,
            label="Campaign",
            optional=True,
            element=PlainTextInputElement(
                action_id=Ids.CAMPAIGN, max_length=CAMPAIGN_MAX, placeholder="Q4 ROI webinar",
                initial_value=known.campaign if known and known.campaign else None,
            ),
        ),
        InputBlock(
            block_id=Ids.NOTE,
            label="Note",
            optional=True,
            hint="Required when the reason is “other”. Marketing may read it.",
            element=PlainTextInputElement(
                action_id=Ids.NOTE, multiline=True, max_length=NOTE_MAX,
                initial_value=prefill.note if prefill and prefill.note else None,
            ),
        ),
    ]
    if options.qualified_lead_definition:
        heading = "*What we call a qualified lead:* "
        blocks.insert(0, ContextBlock(elements=[mrkdwn(heading + escaped_within(
            options.qualified_lead_definition, SECTION_TEXT_MAX - len(heading)))]))
    return View(
        type="modal",
        callback_id=Ids.MODAL,
        title="Edit lead rating" if prefill else "Rate a lead",
        submit="Save" if prefill else "Rate",
        close="Cancel",
        private_metadata=metadata.model_dump_json(exclude_none=True),
        blocks=blocks,
    )


def _rating_fields(rated: RatedLead) -> list[str]:
    fields = []
    if rated.reasons:
        fields.append("*Reasons*\n" + user_text(", ".join(rated.reasons), 1900))
    if rated.source_shown:
        fields.append("*Source*\n" + user_text(rated.source_shown, 200))
    if rated.campaign:
        fields.append("*Campaign*\n" + user_text(rated.campaign, 200))
    return fields


def _edit_button(rated: RatedLead) -> ButtonElement:
    return ButtonElement(
        action_id=Ids.EDIT, text="Edit", value=RatingButtonValue(rating_id=rated.id).model_dump_json()
    )


def _headline(rated: RatedLead) -> str:
    return f"*{user_text(rated.lead_ref, 200)}*  {stars(rated.rating)} {rated.rating}/5 · {rated.rating_label}"


def rating_confirmation(rated: RatedLead) -> tuple[str, list[Block]]:
    """The rep's confirmation: what was stored, with an Edit button. Returns (fallback text, blocks)."""
    verb = "Rated" if rated.created else "Updated your rating of"
    text = f"{verb} {user_text(rated.lead_ref, 200)}: {rated.rating}/5"
    blocks: list[Block] = [
        SectionBlock(text=f":white_check_mark: {verb} {_headline(rated)}", accessory=_edit_button(rated))
    ]
    fields = _rating_fields(rated)
    if fields:
        blocks.append(SectionBlock(fields=fields))
    if rated.note:
        blocks.append(SectionBlock(text=quote(rated.note)))
    if rated.source_text:
        blocks.append(SectionBlock(text=(
            f"Source kept as “{user_text(rated.source_text, 100)}” under {user_text(rated.source or 'Other', 100)}: "
            "it isn't one of this workspace's sources yet; an admin can add it.")))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(
        text="One rating per lead: rating it again updates this one. `/leadfeedback mine` lists your ratings."
    )]))
    return text, blocks


def my_ratings_message(ratings: list[RatedLead], total: int) -> tuple[str, list[Block]]:
    """`/leadfeedback mine`: the rep's latest ratings, each with an Edit button."""
    if not ratings:
        text = "You haven't rated any leads yet."
        return text, [SectionBlock(text=f"{text} Try `/leadfeedback` or `/leadfeedback help`.")]
    shown = f"Your last {len(ratings)} lead ratings" + (f" (of {total})" if total > len(ratings) else "")
    blocks: list[Block] = [HeaderBlock(text=shown)]
    for rated in ratings:
        details = " · ".join(filter(None, [", ".join(rated.reasons), rated.source_shown]))
        line = _headline(rated) + (f"\n{user_text(details, 1000)}" if details else "")
        line += f"\n_{local_time(rated.updated_at)}_"
        blocks.append(SectionBlock(text=line, accessory=_edit_button(rated)))
    return shown, within_block_limit(blocks)


def help_message(reason_codes: str, source_codes: str) -> tuple[str, list[Block]]:
    """`/leadfeedback help`: usage with examples and the workspace's codes."""
    text = "How to rate a lead with /leadfeedback"
    blocks: list[Block] = [
        HeaderBlock(text="Rate a lead in ten seconds"),
        SectionBlock(text=(
            "*`/leadfeedback`* opens a form.\n"
            f"*One line:* {QUICK_USAGE}\n"
            '• The lead can be a CRM id, email, company or URL; quote it if it has spaces: `"Acme Corp" 4 great-fit`\n'
            "• Rating: 1 junk · 2 poor · 3 okay · 4 good · 5 great fit\n"
            "• Reasons forgive case and dashes, and a unique start is enough (`budg` → `no-budget`)\n"
            "• Add `source:webinar` to say where the lead came from and `campaign:q4-roi` (or "
            '`campaign:"Q4 ROI webinar"`) for the campaign; a source that isn\'t listed below is kept '
            "under Other for an admin to add\n"
            "• Rating the same lead again updates your earlier rating and keeps its source, campaign and note "
            "unless you give new ones"
        )),
        SectionBlock(text=f"*Reason codes:* {reason_codes}"),
        SectionBlock(text=f"*Sources:* {source_codes}"),
        DividerBlock(),
        SectionBlock(text="*`/leadfeedback mine`* shows your latest ratings, with Edit buttons."),
        SectionBlock(text=(
            "*`/leadfeedback stats [4|12] [source or campaign]`* shows lead quality over the last 4 (or 12) weeks "
            "by source and campaign: average, % good and bad, top reasons and the trend. Only you see it. "
            'e.g. `/leadfeedback stats 12 webinar`, `/leadfeedback stats "Q4 ROI webinar"`.')),
        SectionBlock(text=(
            "*`/leadfeedback intel`* sends marketing what you saw in the field: a competitor, an objection, a "
            "trend, a customer story or a product gap. On any Slack message, ⋯ → *Send as field intel* does "
            "the same with the message's text and link filled in.")),
        SectionBlock(text='A lead called "stats" or "intel" is rated with quotes: `/leadfeedback "stats" 4`.'),
        SectionBlock(text=("With a lead feed set up, ratings of 1–2 are posted there for marketing; when marketing "
                           "replies (on it, fixed, won't fix, or a note), you get the reply by DM, and when an "
                           "action your rating led to is done, what came of it. Your Home shows both.")),
        ActionsBlock(elements=[ButtonElement(action_id=Ids.RATE_ANOTHER, text="Rate a lead", style="primary")]),
    ]
    return text, blocks


def feed_action_prompt(rated: RatedLead) -> ActionPrompt:
    """What an action logged from a feed post answers: the rating itself, so the action leads back to the rep
    who rated (their DM and Home); its label names the lead, its reasons and its source, and the suggested title
    starts from the first reason, else the source, else the lead."""
    parts = [f"Lead {rated.lead_ref} rated {rated.rating}/5", *([", ".join(rated.reasons)] if rated.reasons else []),
             *([f"from {rated.source_shown}"] if rated.source_shown else [])]
    if rated.reasons:
        title = f"Fewer “{rated.reasons[0]}” leads"
    elif rated.source_code and rated.source:
        title = f"Better leads from {rated.source}"
    else:
        title = f"Follow up on lead {rated.lead_ref}"
    return ActionPrompt(kind="rating", ref=str(rated.id), label=truncate(" · ".join(parts), PROMPT_LABEL_MAX),
                        title=truncate(title, TITLE_MAX))


def lead_feed_message(rated: RatedLead, reply: ReplyShown | None = None) -> tuple[str, list[Block]]:
    """The post in the lead-feed channel, for marketing, about a badly rated lead: its reply, if it has one,
    and the buttons to reply or log an action."""
    flag = ":triangular_flag_on_post:" if rated.rating <= 2 else ":arrows_counterclockwise:"
    text = f"Lead {user_text(rated.lead_ref, 200)} rated {rated.rating}/5 by a rep"
    fields = [*_rating_fields(rated), f"*Rated by*\n<@{rated.rater_user_id}>"]
    blocks: list[Block] = [
        SectionBlock(text=f"{flag} {_headline(rated)}"),
        SectionBlock(fields=fields),
    ]
    if rated.note:
        blocks.append(SectionBlock(text=quote(rated.note)))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(
        text=f"Rated {local_time(rated.updated_at)} with `/leadfeedback`"
    )]))
    if reply is not None:
        blocks.append(reply_block(reply))
    blocks.append(reply_buttons(Subject("rating", rated.id), feed_action_prompt(rated)))
    return text, blocks
