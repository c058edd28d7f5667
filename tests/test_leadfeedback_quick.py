"""/leadfeedback's one-line form, help and mine, driven through signed HTTP requests."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from storage import queries
from storage import teams as store
from tests.helpers import rating_count, ratings, reason_codes, sources


def test_one_line_rating_is_stored_and_confirmed(running, slack):
    reply = slack.command("/leadfeedback", 'ACME-4411 2 no-budget wrong-contact "only wanted pricing"')

    assert reply.status == 200
    answer = reply.json
    assert answer["response_type"] == "ephemeral"
    assert answer["text"] == "Rated ACME-4411: 2/5"
    headline = answer["blocks"][0]
    assert "*ACME-4411*" in headline["text"]["text"] and "2/5 · Poor" in headline["text"]["text"]
    assert headline["accessory"]["action_id"] == "leadfeedback.edit"
    [row] = ratings(running.crossfeed)
    assert (row.team_id, row.rater_user_id, row.lead_ref, row.lead_key, row.rating) == (
        "T1", "U1", "ACME-4411", "acme-4411", 2)
    assert reason_codes(row) == ["wrong-persona", "no-budget"]
    assert row.note == "only wanted pricing"
    assert headline["accessory"]["value"] == f'{{"rating_id":{row.id}}}'


@pytest.mark.parametrize("typed, code", [
    ("NO-BUDGET", "no-budget"),
    ("no_budget", "no-budget"),
    ("nobudget", None),
    ("budg", "no-budget"),
    ("Wrong-Persona", "wrong-persona"),
    ("dupe", "duplicate"),
    ("exist", "existing-customer"),
    ("great", "great-fit"),
])
def test_reason_codes_match_forgivingly(running, slack, typed, code):
    reply = slack.command("/leadfeedback", f"lead-1 3 {typed}")

    if code is None:
        assert "isn't a reason code" in reply.json["text"]
        assert rating_count(running.crossfeed) == 0
    else:
        assert reply.json["text"] == "Rated lead-1: 3/5"
        assert reason_codes(ratings(running.crossfeed)[0]) == [code]


def test_a_quoted_lead_with_spaces_and_a_source(running, slack):
    slack.command("/leadfeedback", '"Acme Corp" 5 great-fit ready source:webinar')

    [row] = ratings(running.crossfeed)
    assert row.lead_ref == "Acme Corp" and row.rating == 5
    assert reason_codes(row) == ["great-fit", "ready-to-buy"]
    assert row.source.code == "webinar"


def test_slack_link_and_mention_escaping_is_undone(running, slack):
    # With should_escape, Slack sends emails and URLs wrapped in <...> and & as &amp;.
    slack.command("/leadfeedback", '<mailto:jane@acme.com|jane@acme.com> 1 spam "asked <@U9|bob> &amp; left"')

    [row] = ratings(running.crossfeed)
    assert row.lead_ref == "jane@acme.com"
    assert row.note == "asked @bob & left"


def test_smart_quotes_from_slack_clients_work(running, slack):
    slack.command("/leadfeedback", "ACME-1 2 no-need “they had no project”")

    assert ratings(running.crossfeed)[0].note == "they had no project"


def test_rating_the_same_lead_again_updates_the_one_rating(running, slack):
    slack.command("/leadfeedback", "ACME-4411 2 no-budget")
    reply = slack.command("/leadfeedback", "acme-4411 4 great-fit")

    assert reply.json["text"] == "Updated your rating of acme-4411: 4/5"
    [row] = ratings(running.crossfeed)
    assert row.rating == 4 and reason_codes(row) == ["great-fit"]


def test_another_rep_rating_the_same_lead_gets_their_own_row(running, slack):
    slack.command("/leadfeedback", "ACME-4411 2 no-budget", user="U1")
    slack.command("/leadfeedback", "ACME-4411 5 great-fit", user="U2")

    assert sorted((r.rater_user_id, r.rating) for r in ratings(running.crossfeed)) == [("U1", 2), ("U2", 5)]


def test_a_slack_retry_does_not_create_a_second_row(running, slack):
    body = slack.command_body("/leadfeedback", "ACME-9 1 spam")
    first = slack.post(body)
    retried = slack.post(body, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})

    assert first.status == retried.status == 200
    assert rating_count(running.crossfeed) == 1


@pytest.mark.parametrize("text, complaint", [
    ("ACME-1 0", "“0” isn't a rating"),
    ("ACME-1 6", "“6” isn't a rating"),
    ("ACME-1 abc", "“abc” isn't a rating"),
    ("ACME-1 2.5", "“2.5” isn't a rating"),
    ("ACME-1", "Give the lead and a rating from 1 to 5"),
    ('"" 3 no-budget', "Say which lead"),
    ("ACME-1 2 no-budget \"only wanted pricing", "A quote is not closed"),
    ("ACME-1 2 telepathy", "“telepathy” isn't a reason code here. Use one of: `not-icp`"),
    ("ACME-1 2 no", "could be any of"),
    ("ACME-1 2 other", "You picked “other”: say why in the note."),
    ('ACME-1 2 "a" "b"', "one pair of double quotes"),
    ("ACME-1 2 source:paid", "“paid” could be any of `paid-search`, `paid-social`"),
    ("Acme Corp 2 no-budget", 'If the lead is “Acme Corp”, quote it: `/leadfeedback "Acme Corp" 2 no-budget`'),
    ("Acme Corp Inc 4/5 great-fit", 'quote it: `/leadfeedback "Acme Corp Inc" 4/5 great-fit`'),
    ("A" * 201 + " 2", "The lead reference is 201 characters; keep it to 200."),
    ('ACME-1 2 "' + "x" * 1001 + '"', "The note is 1001 characters; keep it to 1000."),
])
def test_bad_input_gets_a_clear_answer_and_nothing_is_stored(running, slack, text, complaint):
    reply = slack.command("/leadfeedback", text)

    assert reply.status == 200
    answer = reply.json
    assert answer["response_type"] == "ephemeral"
    assert complaint in answer["text"]
    shown = answer["blocks"]
    assert shown[0]["text"]["text"].startswith(":warning:")
    assert "/leadfeedback <lead> <1-5>" in shown[-1]["elements"][0]["text"], "the right form is shown"
    assert "Traceback" not in reply.body
    assert rating_count(running.crossfeed) == 0


def test_user_text_in_errors_is_escaped(running, slack):
    reply = slack.command("/leadfeedback", "ACME-1 2 <!channel>")

    assert "<!channel>" not in reply.body and "@channel" in reply.body


def test_confirmation_escapes_user_text(running, slack):
    # As Slack sends it: & < > typed by the person arrive as entities, @here as <!here>.
    reply = slack.command("/leadfeedback", '"&lt;b&gt;Acme&lt;/b&gt; &amp; Co" 2 no-budget "call <!here> &lt;now&gt;"')

    body = reply.body
    assert "&lt;b&gt;Acme&lt;/b&gt; &amp; Co" in reply.json["text"]
    assert "&lt;b&gt;Acme&lt;/b&gt; &amp; Co" in reply.json["blocks"][0]["text"]["text"]
    assert "<!here>" not in body and "<now>" not in body and "<b>" not in body
    [row] = ratings(running.crossfeed)
    assert row.lead_ref == "<b>Acme</b> & Co"
    assert row.note == "call @here <now>"


def test_help_lists_usage_examples_and_codes(running, slack):
    reply = slack.command("/leadfeedback", "help")

    text = reply.body
    assert "/leadfeedback ACME-4411 2 no-budget wrong-persona" in text
    assert "`no-budget`" in text and "`great-fit`" in text and "`webinar`" in text
    assert rating_count(running.crossfeed) == 0


def test_mine_lists_my_latest_ratings_with_edit_buttons(running, slack):
    for n in range(12):
        slack.command("/leadfeedback", f"LEAD-{n} {n % 5 + 1}")
    slack.command("/leadfeedback", "SOMEONE-ELSES 3", user="U2")

    reply = slack.command("/leadfeedback", "mine")

    blocks = reply.json["blocks"]
    assert blocks[0]["text"]["text"] == "Your last 10 lead ratings (of 12)"
    rows = blocks[1:]
    assert len(rows) == 10
    assert "LEAD-11" in rows[0]["text"]["text"]
    assert all(row["accessory"]["action_id"] == "leadfeedback.edit" for row in rows)
    assert "SOMEONE-ELSES" not in reply.body


def test_mine_with_no_ratings_says_how_to_start(slack):
    assert "You haven't rated any leads yet" in slack.command("/leadfeedback", "mine").body


def test_help_shows_source_and_campaign(running, slack):
    text = slack.command("/leadfeedback", "help").body

    assert "source:webinar" in text and "campaign:q4-roi" in text
    assert "[source:x] [campaign:x]" in text


def test_campaign_and_source_are_taken_with_or_without_quotes(running, slack):
    slack.command("/leadfeedback", 'ACME-1 2 no-budget campaign:q4-roi source:webinar "pricing only"')
    slack.command("/leadfeedback", 'ACME-2 4 Campaign:"Q4 ROI webinar" source:"paid search" great-fit')

    first, second = ratings(running.crossfeed)
    assert (first.campaign, first.source.code, first.note, reason_codes(first)) == (
        "q4-roi", "webinar", "pricing only", ["no-budget"])
    assert (second.campaign, second.source.code, second.note, reason_codes(second)) == (
        "Q4 ROI webinar", "paid-search", None, ["great-fit"])


def test_re_rating_keeps_source_campaign_and_note_unless_new_ones_are_given(running, slack):
    slack.command("/leadfeedback", 'ACME-1 2 no-budget source:webinar campaign:q4-roi "only wanted pricing"')

    reply = slack.command("/leadfeedback", "ACME-1 1 spam")

    [row] = ratings(running.crossfeed)
    assert (row.rating, row.source.code, row.campaign, row.note) == (1, "webinar", "q4-roi", "only wanted pricing")
    assert reason_codes(row) == ["spam"], "reasons given replace the old ones"
    assert "Webinar" in reply.body and "q4-roi" in reply.body, "the confirmation shows what is kept"

    slack.command("/leadfeedback", 'acme-1 2 source:email campaign:spring "called, no project"')

    [row] = ratings(running.crossfeed)
    assert (row.rating, row.source.code, row.campaign, row.note) == (2, "email", "spring", "called, no project")
    assert reason_codes(row) == ["spam"], "no reasons given: the old ones still fit a bad rating"


@pytest.mark.parametrize("first, second, kept", [
    ("ACME-1 2 no-budget wrong-persona", "ACME-1 5", []),
    ("ACME-1 5 great-fit ready", "ACME-1 1", []),
    ("ACME-1 2 no-budget", "ACME-1 3", ["no-budget"]),
    ("ACME-1 4 great-fit", "ACME-1 5", ["great-fit"]),
    ("ACME-1 2 no-budget", "ACME-1 4 great-fit", ["great-fit"]),
])
def test_crossing_from_bad_to_good_or_back_drops_the_other_reasons(running, slack, first, second, kept):
    slack.command("/leadfeedback", first)
    slack.command("/leadfeedback", second)

    [row] = ratings(running.crossfeed)
    assert reason_codes(row) == kept


def test_a_re_rate_keeps_an_other_reason_with_its_note(running, slack):
    slack.command("/leadfeedback", 'ACME-1 2 other "reseller, not an end user"')

    reply = slack.command("/leadfeedback", "ACME-1 1")

    assert reply.json["text"] == "Updated your rating of ACME-1: 1/5"
    [row] = ratings(running.crossfeed)
    assert reason_codes(row) == ["other"] and row.note == "reseller, not an end user"


@pytest.mark.parametrize("typed, code", [
    ("webinars", "webinar"),
    ("Paid-Search", "paid-search"),
    ("paid_social", "paid-social"),
    ("ppc", "paid-search"),
    ("trade-shows", "event"),
    ("refer", "referral"),
])
def test_a_typed_source_matches_the_workspace_sources_forgivingly(running, slack, typed, code):
    reply = slack.command("/leadfeedback", f"ACME-1 2 source:{typed}")

    assert reply.json["text"] == "Rated ACME-1: 2/5"
    [row] = ratings(running.crossfeed)
    assert (row.source.code, row.source_text) == (code, None)
    assert len(sources(running.crossfeed)) == 12, "no source was added"


def test_a_typed_source_that_matches_none_is_kept_under_other_and_the_rep_is_told(running, slack):
    reply = slack.command("/leadfeedback", "ACME-1 2 no-budget source:webinarz")

    [row] = ratings(running.crossfeed)
    assert (row.source.code, row.source_text) == ("other", "webinarz")
    assert "webinarz" not in [source.code for source in sources(running.crossfeed)]
    shown = json.dumps(reply.json, ensure_ascii=False)
    assert "Source kept as “webinarz” under Other" in shown and "an admin can add it" in shown
    assert "Other: webinarz" in shown


def test_a_typed_source_is_escaped_when_shown(running, slack):
    reply = slack.command("/leadfeedback", 'ACME-1 2 source:"&lt;!here&gt; &amp; co"')

    [row] = ratings(running.crossfeed)
    assert row.source_text == "<!here> & co"
    assert "<!here>" not in reply.body and "&lt;!here&gt; &amp; co" in reply.body


def test_with_new_sources_allowed_a_typed_source_becomes_a_source(running, slack):
    with running.crossfeed.transaction() as session:
        store.workspace_config(session=session, team_id="T1").allow_new_sources = True

    slack.command("/leadfeedback", "ACME-1 2 source:g2")

    [row] = ratings(running.crossfeed)
    assert (row.source.code, row.source.created_by, row.source_text) == ("g2", "U1", None)


def test_a_retired_source_typed_again_is_refused_and_not_revived(running, slack):
    with running.crossfeed.transaction() as session:
        queries.ensure_workspace(session=session, team_id="T1")
        queries.source_by_code(session=session, team_id="T1", code="webinar").retired_at = datetime.now(UTC)

    reply = slack.command("/leadfeedback", "ACME-1 2 source:webinars")

    assert "“Webinar” was retired by an admin" in reply.json["text"]
    assert rating_count(running.crossfeed) == 0
    assert queries_source_retired(running.crossfeed, "webinar")


def queries_source_retired(crossfeed, code: str) -> bool:
    with crossfeed.sessions() as session:
        return queries.source_by_code(session=session, team_id="T1", code=code).retired_at is not None
