"""Long and hostile text in the sections that list people's words (pulse comments, an ask's quotes and suggestions):
each section stays inside Slack's 3000 characters by leaving out whole lines and saying how many, never by cutting
escaped text in the middle of an entity or a mention, and the text is verbatim so nothing in it pings or links."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from slack_sdk.models.blocks import Block

from bot.blocks.common import SECTION_TEXT_MAX, listed_text
from bot.blocks.messaging import ask_summary_message
from bot.blocks.pulse import pulse_results_message
from bot.results.messaging import AskResults, AskView, RepAnswer
from bot.results.pulse import PulseResults, TeamPulse

HOSTILE = ("<!channel> <@U1> <https://evil.example|click> &amp; \u202ereversed\u202c :tada: @here #general "
           "https://evil.example\n") * 40  # ~3,900 characters, most of them lengthened by escaping
BROKEN_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")
NOW = datetime(2026, 11, 30, 15, tzinfo=UTC)


def sections(blocks: list[Block]) -> list[dict]:
    return [b.to_dict() for b in blocks if b.to_dict()["type"] == "section" and "text" in b.to_dict()]


def assert_safe(section: dict) -> None:
    text = section["text"]["text"]
    assert len(text) <= SECTION_TEXT_MAX
    assert section["text"]["type"] == "mrkdwn" and section["text"]["verbatim"] is True
    assert not BROKEN_ENTITY.search(text), "an entity cut in half"
    assert "<!channel>" not in text and "<https://evil" not in text and "<@U1>" not in text


def test_pulse_comments_leave_out_whole_comments_and_count_them():
    comments = tuple(f"comment {n}: {HOSTILE}" for n in range(14))
    team = TeamPulse(side="sales", name="Sales", asked=20, answered=14, scores=(("How aligned?", 3.0),), shown=True,
                     comments=comments)
    results = PulseResults(period="2026-W48", closes_at=NOW, teams=(team,), gap=None, threshold=3,
                           comment_threshold=5)

    _, blocks = pulse_results_message(results)

    [listed] = [s for s in sections(blocks) if "comment 0" in s["text"]["text"]]
    assert_safe(listed)
    text = listed["text"]["text"]
    shown = len(re.findall(r"comment \d+:", text))
    assert text.endswith(f"…and {14 - shown} more")
    assert 0 < shown < 14


def test_an_asks_quotes_and_suggestions_leave_out_whole_answers():
    view = AskView(id=7, name="Battlecard", link=None, description=None, asker_user_id="UMKT", audience="channel",
                   channel_id="C1", closes_at=NOW, closed=True, tally={"resonated": 5, "mixed": 0, "flat": 0,
                                                                        "not_used": 0})
    answers = tuple(RepAnswer(rep_user_id=f"UR{n}", reaction="resonated", used_in=("call",), stage=None,
                              quote=f"quote {n}: {HOSTILE}", suggestion=f"suggestion {n}: {HOSTILE}")
                    for n in range(5))
    results = AskResults(ask=view, answers=answers, usage={"call": 5})

    _, blocks = ask_summary_message(results)

    for heading in ("*What buyers said*", "*Suggested changes*"):
        [listed] = [s for s in sections(blocks) if s["text"]["text"].startswith(heading)]
        assert_safe(listed)
        assert re.search(r"…and \d more$", listed["text"]["text"])


@pytest.mark.parametrize("heading", ["", "*Heading*"])
def test_listed_text_without_room_for_any_line_still_counts_them(heading):
    assert listed_text(heading, ["x" * 4000, "y"]) == (f"{heading}\n…and 2 more" if heading else "…and 2 more")
    assert listed_text(heading, ["a", "b"], 3) == (f"{heading}\na\nb\n…and 3 more" if heading else "a\nb\n…and 3 more")
