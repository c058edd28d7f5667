"""The App Home tab (a first version: what you can do; issue-driven richer views come later)."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.blocks.ids import LeadFeedbackIds


def home_view() -> View:
    return View(type="home", blocks=[
        HeaderBlock(text="Crossfeed"),
        SectionBlock(text=("Close the loop between sales and marketing: rate the leads you get, answer the "
                           "weekly pulse, and see where the teams stand.")),
        ActionsBlock(elements=[ButtonElement(action_id=LeadFeedbackIds.RATE_ANOTHER, text="Rate a lead",
                                             style="primary")]),
        SectionBlock(text=(
            "• `/leadfeedback ACME-4411 2 no-budget \"only wanted pricing\"` rates a lead in one line\n"
            "• `/leadfeedback mine` shows your latest ratings, with Edit buttons\n"
            "• `/messaging` lists open messaging asks; `/messaging ask` asks sales how your messaging landed\n"
            "• `/pulse` answers this week's alignment pulse; `/pulse results` shows the last one\n"
            "• `/alignment help` lists team and admin commands"
        )),
        ContextBlock(elements=[MarkdownTextObject(
            text="Pulse answers are anonymous; lead ratings and messaging feedback carry your name."
        )]),
    ])
