"""/leadfeedback's modal: open, validate, submit, confirm, edit — through signed requests."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.blocks.ids import LeadFeedbackIds as Ids
from storage import queries
from storage import teams as store
from storage.models import ReasonCode
from tests.helpers import rating_count, ratings, reason_codes, sources


def values(lead="ACME-4411", rating="2", reasons=("no-budget",), source=None, campaign=None, note=None):
    """state.values as Slack sends them for the rating modal."""
    def option(value):
        return {"text": {"type": "plain_text", "text": value}, "value": value}

    return {
        Ids.LEAD: {Ids.LEAD: {"type": "plain_text_input", "value": lead}},
        Ids.RATING: {Ids.RATING: {"type": "radio_buttons", "selected_option": option(rating) if rating else None}},
        Ids.REASONS: {Ids.REASONS: {"type": "multi_static_select",
                                    "selected_options": [option(r) for r in reasons]}},
        Ids.SOURCE: {Ids.SOURCE: {"type": "external_select",
                                  "selected_option": option(source) if source else None}},
        Ids.CAMPAIGN: {Ids.CAMPAIGN: {"type": "plain_text_input", "value": campaign}},
        Ids.NOTE: {Ids.NOTE: {"type": "plain_text_input", "value": note}},
    }


def open_modal(running, slack) -> dict:
    reply = slack.command("/leadfeedback", "")
    assert reply.status == 200 and reply.body == ""
    [call] = running.fake.wait_for("views.open")
    running.fake.reset()
    return call.view


def test_no_text_opens_the_rating_modal(running, slack):
    view = open_modal(running, slack)

    assert view["callback_id"] == Ids.MODAL
    assert view["title"]["text"] == "Rate a lead"
    block_ids = [block["block_id"] for block in view["blocks"]]
    assert block_ids == [Ids.LEAD, Ids.RATING, Ids.REASONS, Ids.SOURCE, Ids.CAMPAIGN, Ids.NOTE]
    rating = view["blocks"][1]["element"]["options"]
    assert [o["text"]["text"] for o in rating] == ["1 · Junk", "2 · Poor", "3 · Okay", "4 · Good", "5 · Great fit"]
    groups = view["blocks"][2]["element"]["option_groups"]
    assert [g["label"]["text"] for g in groups] == ["Bad lead", "Good lead"]
    assert "no-budget" in [o["value"] for o in groups[0]["options"]]
    assert json.loads(view["private_metadata"])["response_url"].endswith("/respond/leadfeedback-U1")


def test_submitting_the_modal_stores_the_rating_closes_it_and_confirms(running, slack):
    view = open_modal(running, slack)

    reply = slack.submit(view, values(reasons=("no-budget", "wrong-persona"), campaign="Q4 ROI webinar",
                                      note="Only wanted pricing"))

    assert reply.status == 200 and reply.body == "", "an empty 200 closes the modal"
    [row] = ratings(running.crossfeed)
    assert (row.lead_ref, row.rating, row.campaign, row.note) == ("ACME-4411", 2, "Q4 ROI webinar",
                                                                  "Only wanted pricing")
    assert reason_codes(row) == ["wrong-persona", "no-budget"]
    [confirmation] = running.fake.wait_for("response_url")
    assert confirmation.params["response_type"] == "ephemeral"
    assert confirmation.params["text"] == "Rated ACME-4411: 2/5"
    assert confirmation.blocks[0]["accessory"]["action_id"] == Ids.EDIT


def test_invalid_fields_are_shown_on_the_field_and_nothing_is_stored(running, slack):
    view = open_modal(running, slack)

    reply = slack.submit(view, values(lead="   ", reasons=("other",), campaign="c" * 151))

    assert reply.status == 200
    answer = reply.json
    assert answer["response_action"] == "errors"
    assert answer["errors"][Ids.LEAD] == "Say which lead: a CRM id, email, company or URL."
    assert answer["errors"][Ids.CAMPAIGN] == "The campaign is 151 characters; keep it to 150."
    assert rating_count(running.crossfeed) == 0
    assert not running.fake.calls_to("response_url")


def test_other_needs_a_note(running, slack):
    view = open_modal(running, slack)

    reply = slack.submit(view, values(reasons=("other",)))

    assert reply.json["errors"] == {Ids.NOTE: "You picked “other”: say why in the note."}
    assert rating_count(running.crossfeed) == 0


def test_a_double_submit_leaves_one_rating(running, slack):
    view = open_modal(running, slack)

    first = slack.submit(view, values())
    second = slack.submit(view, values())

    assert first.status == second.status == 200
    assert rating_count(running.crossfeed) == 1


def allow_new_sources(crossfeed) -> None:
    """What an admin's "Reps can add a source" tick in /alignment setup stores (tested in test_setup)."""
    with crossfeed.transaction() as session:
        store.workspace_config(session=session, team_id="T1").allow_new_sources = True


def test_source_typeahead_offers_known_sources_and_what_was_typed(running, slack):
    reply = slack.suggest(Ids.SOURCE, "g2")

    assert [(o["text"]["text"], o["value"]) for o in reply.json["options"]] == [
        ("“g2” (under Other until an admin adds it)", "new:g2")]

    everything = slack.suggest(Ids.SOURCE, "").json["options"]
    assert len(everything) == 12 and everything[0]["text"]["text"] == "Paid search"


@pytest.mark.parametrize("typed, shown", [
    ("web", ["Direct web", "Webinar"]),  # `web` is Direct web's alias: saving it would pick Direct web
    ("webinars", ["Webinar"]),
    ("ppc", ["Paid search"]),
    ("paid", ["Paid search", "Paid social"]),  # a start that fits two: pick one, nothing typed to add
])
def test_source_typeahead_leads_with_the_source_saving_would_pick(running, slack, typed, shown):
    options = slack.suggest(Ids.SOURCE, typed).json["options"]

    assert [option["text"]["text"] for option in options] == shown


def test_with_new_sources_allowed_the_typeahead_offers_to_add_one(running, slack):
    allow_new_sources(running.crossfeed)

    labels = [option["text"]["text"] for option in slack.suggest(Ids.SOURCE, "g2").json["options"]]

    assert labels == ["Add “g2”"]


def test_a_source_typed_in_the_modal_that_matches_none_is_kept_under_other(running, slack):
    view = open_modal(running, slack)
    assert "kept under Other until an admin adds it" in view["blocks"][3]["hint"]["text"]

    reply = slack.submit(view, values(source="new:G2 reviews"))

    assert reply.body == ""
    [row] = ratings(running.crossfeed)
    assert (row.source.code, row.source_text) == ("other", "G2 reviews")
    assert "G2 reviews" not in [source.label for source in sources(running.crossfeed)]
    [confirmation] = running.fake.wait_for("response_url")
    assert "Source kept as “G2 reviews” under Other" in confirmation.text_everywhere()
    assert "an admin can add it" in confirmation.text_everywhere()


def test_a_source_typed_in_the_modal_matches_a_known_one_forgivingly(running, slack):
    view = open_modal(running, slack)

    slack.submit(view, values(source="new:Webinars"))

    [row] = ratings(running.crossfeed)
    assert (row.source.code, row.source_text) == ("webinar", None)
    assert len(sources(running.crossfeed)) == 12, "no source was added"


def test_with_new_sources_allowed_a_new_source_typed_in_the_modal_is_added_and_used(running, slack):
    allow_new_sources(running.crossfeed)
    view = open_modal(running, slack)
    assert view["blocks"][3]["hint"]["text"] == "Type to search, or type a new source to add it."

    slack.submit(view, values(source="new:G2 reviews"))

    [row] = ratings(running.crossfeed)
    assert row.source.label == "G2 reviews" and row.source.created_by == "U1" and row.source_text is None
    assert "G2 reviews" in [source.label for source in sources(running.crossfeed)]
    again = slack.suggest(Ids.SOURCE, "g2").json["options"]
    assert [o["text"]["text"] for o in again] == ["G2 reviews"], "typing its start finds it; nothing new to add"


def test_editing_a_rating_keeps_its_typed_source(running, slack):
    slack.command("/leadfeedback", 'ACME-1 2 no-budget source:webinarz campaign:"Q4 ROI" "only pricing"')
    [row] = ratings(running.crossfeed)
    slack.click(Ids.EDIT, json.dumps({"rating_id": row.id}))
    [call] = running.fake.wait_for("views.open")
    by_id = {block["block_id"]: block["element"] for block in call.view["blocks"]}
    assert by_id[Ids.SOURCE]["initial_option"]["value"] == "new:webinarz"
    assert by_id[Ids.CAMPAIGN]["initial_value"] == "Q4 ROI"

    # Saving the prefilled form as it came, with only the rating changed.
    slack.submit(call.view, values(lead="ACME-1", rating="1", reasons=("no-budget",), source="new:webinarz",
                                   campaign="Q4 ROI", note="only pricing"))

    [edited] = ratings(running.crossfeed)
    assert (edited.rating, edited.source.code, edited.source_text, edited.campaign, edited.note) == (
        1, "other", "webinarz", "Q4 ROI", "only pricing")


def test_edit_button_opens_the_modal_prefilled_and_saving_updates_the_same_row(running, slack):
    slack.command("/leadfeedback", 'ACME-4411 2 no-budget source:webinar "only wanted pricing"')
    [row] = ratings(running.crossfeed)

    reply = slack.click(Ids.EDIT, json.dumps({"rating_id": row.id}))

    assert reply.status == 200
    [call] = running.fake.wait_for("views.open")
    view = call.view
    assert view["title"]["text"] == "Edit lead rating"
    by_id = {block["block_id"]: block["element"] for block in view["blocks"]}
    assert by_id[Ids.LEAD]["initial_value"] == "ACME-4411"
    assert by_id[Ids.RATING]["initial_option"]["value"] == "2"
    assert [o["value"] for o in by_id[Ids.REASONS]["initial_options"]] == ["no-budget"]
    assert by_id[Ids.SOURCE]["initial_option"]["text"]["text"] == "Webinar"
    assert by_id[Ids.NOTE]["initial_value"] == "only wanted pricing"
    assert json.loads(view["private_metadata"])["rating_id"] == row.id

    slack.submit(view, values(lead="ACME-4411", rating="3", reasons=("bad-timing",)))

    [edited] = ratings(running.crossfeed)
    assert edited.id == row.id and edited.rating == 3 and reason_codes(edited) == ["bad-timing"]
    [confirmation] = running.fake.wait_for("response_url")
    assert confirmation.params["text"] == "Updated your rating of ACME-4411: 3/5"


def test_editing_a_lead_into_one_already_rated_is_refused_on_the_field(running, slack):
    slack.command("/leadfeedback", "ACME-1 2")
    slack.command("/leadfeedback", "ACME-2 4")
    first = ratings(running.crossfeed)[0]
    slack.click(Ids.EDIT, json.dumps({"rating_id": first.id}))
    [call] = running.fake.wait_for("views.open")

    reply = slack.submit(call.view, values(lead="acme-2", rating="2", reasons=()))

    assert "You have already rated this lead" in reply.json["errors"][Ids.LEAD]
    assert sorted(r.lead_ref for r in ratings(running.crossfeed)) == ["ACME-1", "ACME-2"]


def test_editing_someone_elses_rating_is_refused_politely(running, slack):
    slack.command("/leadfeedback", "ACME-1 2", user="U1")
    [row] = ratings(running.crossfeed)

    reply = slack.click(Ids.EDIT, json.dumps({"rating_id": row.id}), user="U2")

    assert reply.status == 200
    [told] = running.fake.wait_for("response_url")
    assert "You can only edit your own ratings." in told.params["text"]
    assert not running.fake.calls_to("views.open")


def test_an_expired_trigger_is_reported_to_the_person(running, slack):
    running.fake.script.fail("views.open", error="expired_trigger_id")

    slack.command("/leadfeedback", "")

    [told] = running.fake.wait_for("response_url")
    assert "Sorry, something went wrong" in told.params["text"] and "reference" in told.params["text"]


def test_rate_a_lead_button_in_help_opens_the_modal(running, slack):
    slack.click(Ids.RATE_ANOTHER)

    [call] = running.fake.wait_for("views.open")
    assert call.view["callback_id"] == Ids.MODAL


def test_a_new_source_that_an_admin_retired_is_refused_on_its_field(running, slack):
    with running.crossfeed.transaction() as session:
        queries.ensure_workspace(session=session, team_id="T1")
        queries.source_by_code(session=session, team_id="T1", code="webinar").retired_at = datetime.now(UTC)
    view = open_modal(running, slack)

    reply = slack.submit(view, values(source="new:Webinar"))

    assert reply.json["response_action"] == "errors"
    assert "“Webinar” was retired by an admin" in reply.json["errors"][Ids.SOURCE]
    assert ratings(running.crossfeed) == []


def test_rating_an_already_rated_lead_in_a_fresh_modal_keeps_what_it_leaves_blank(running, slack):
    slack.command("/leadfeedback", 'ACME-1 2 no-budget source:webinar campaign:q4-roi "only pricing"')
    view = open_modal(running, slack)

    slack.submit(view, values(lead="acme-1", rating="5", reasons=()))

    [row] = ratings(running.crossfeed)
    assert (row.rating, row.source.code, row.campaign, row.note) == (5, "webinar", "q4-roi", "only pricing")
    assert reason_codes(row) == [], "a bad reason doesn't stay on a lead now rated good"


def test_the_edit_modal_saves_exactly_what_it_sends_so_a_cleared_field_is_cleared(running, slack):
    slack.command("/leadfeedback", 'ACME-1 2 no-budget source:webinar campaign:q4-roi "only pricing"')
    [row] = ratings(running.crossfeed)
    slack.click(Ids.EDIT, json.dumps({"rating_id": row.id}))
    [call] = running.fake.wait_for("views.open")

    slack.submit(call.view, values(lead="ACME-1", rating="2", reasons=("no-budget",), source=f"id:{row.source_id}",
                                   campaign=None, note="only pricing"))

    [edited] = ratings(running.crossfeed)
    assert (edited.source.code, edited.campaign, edited.note) == ("webinar", None, "only pricing")


def test_editing_a_rating_keeps_a_reason_an_admin_has_retired_since(running, slack):
    slack.command("/leadfeedback", "ACME-1 2 no-budget duplicate")
    [row] = ratings(running.crossfeed)
    with running.crossfeed.transaction() as session:
        session.scalar(select(ReasonCode).where(ReasonCode.code == "duplicate")).retired_at = datetime.now(UTC)
    slack.click(Ids.EDIT, json.dumps({"rating_id": row.id}))
    [call] = running.fake.wait_for("views.open")
    reasons = next(b for b in call.view["blocks"] if b["block_id"] == Ids.REASONS)["element"]
    assert [o["value"] for o in reasons["initial_options"]] == ["no-budget", "duplicate"]
    assert reasons["option_groups"][-1]["label"]["text"] == "No longer offered"

    reply = slack.submit(call.view, values(lead="ACME-1", rating="1", reasons=("no-budget", "duplicate")))

    assert reply.body == ""
    [edited] = ratings(running.crossfeed)
    assert (edited.rating, reason_codes(edited)) == (1, ["no-budget", "duplicate"])
    assert "isn't a reason code" in slack.command("/leadfeedback", "ACME-2 1 duplicate").json["text"], \
        "still retired for new ratings"
