"""/leadfeedback: the rating modal, the one-line form, `mine`, `help`, Edit buttons."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import ValidationError
from slack_bolt import Ack, App

from bot.blocks.ids import LEAD_FORM_BLOCKS
from bot.blocks.ids import LeadFeedbackIds as Ids
from bot.blocks.lead_stats import stats_message
from bot.blocks.leadfeedback import (
    LeadFormMetadata,
    RatingButtonValue,
    help_message,
    lead_feedback_modal,
    my_ratings_message,
    new_source_option,
    rating_confirmation,
    source_option,
)
from bot.container import Crossfeed
from bot.errors import InvalidInput
from bot.lead_stats import lead_stats, parse_stats_request
from bot.leads import (
    LeadRatingInput,
    RatedLead,
    find_sources,
    lead_form_options,
    my_recent_ratings,
    parse_quick_rating,
    rate_lead,
    rating_for_edit,
    workspace_codes,
)
from bot.results import record_id
from bot.slack_requests import ViewState, team_of
from bot.text import plain_command_text


def _no_text(body: dict) -> bool:
    return not plain_command_text(body.get("text", ""))


class LeadFeedback:
    """Listeners for /leadfeedback and its modal and buttons."""

    def __init__(self, crossfeed: Crossfeed):
        self.cf = crossfeed

    def on_command_without_text(self, ack: Ack, body: dict) -> None:
        """`/leadfeedback` alone opens the rating modal."""
        ack()
        metadata = LeadFormMetadata(response_url=body.get("response_url"), channel_id=body.get("channel_id"))
        self._open_modal_after_ack(body, metadata)

    def on_command(self, ack: Ack, body: dict, context) -> None:
        """`/leadfeedback help`, `/leadfeedback mine`, `/leadfeedback stats …` or the one-line form."""
        text = plain_command_text(body.get("text", ""))
        word = text.split()[0].casefold()
        if word == "help" and len(text.split()) == 1:
            with self.cf.transaction() as session:
                reasons, sources = workspace_codes(session=session, team_id=context.team_id)
            fallback, blocks = help_message(reasons, sources)
        elif word == "mine" and len(text.split()) == 1:
            with self.cf.transaction() as session:
                ratings, total = my_recent_ratings(session=session, team_id=context.team_id, user_id=context.user_id)
            fallback, blocks = my_ratings_message(ratings, total)
        elif word == "stats":
            request = parse_stats_request(text.partition(" ")[2])
            with self.cf.transaction() as session:
                stats = lead_stats(session=session, team_id=context.team_id, now=datetime.now(UTC), request=request)
            fallback, blocks = stats_message(stats)
        else:
            rated = self._save(context, parse_quick_rating(text))
            fallback, blocks = rating_confirmation(rated)
        ack(text=fallback, blocks=blocks, response_type="ephemeral")

    def on_rating_submitted(self, ack: Ack, body: dict, view: dict, context) -> None:
        """The modal's Rate/Save: field errors in the modal, or close it and confirm."""
        metadata = LeadFormMetadata.model_validate_json(view.get("private_metadata") or "{}")
        try:
            rated = self._save(context, _form_input(ViewState(view)), rating_id=metadata.rating_id)
        except InvalidInput as invalid:
            errors = {LEAD_FORM_BLOCKS.get(field, Ids.LEAD): message for field, message in invalid.fields.items()}
            return ack(response_action="errors", errors=errors)
        ack()
        self.cf.later(body, lambda: self._confirm(body, metadata, rated))

    def on_edit_clicked(self, ack: Ack, body: dict, action: dict, context) -> None:
        """An Edit button: open the modal prefilled with that rating."""
        ack()
        try:
            value = RatingButtonValue.model_validate_json(action.get("value") or "")
        except ValidationError:
            value = None
        with self.cf.transaction() as session:
            prefill = (rating_for_edit(session=session, team_id=context.team_id, user_id=context.user_id,
                                       rating_id=value.rating_id) if value else None)
        metadata = LeadFormMetadata(rating_id=value.rating_id if value else None,
                                    response_url=body.get("response_url"))
        self._open_modal_after_ack(body, metadata, prefill)

    def on_rate_clicked(self, ack: Ack, body: dict) -> None:
        """"Rate a lead" buttons (help message, App Home)."""
        ack()
        self._open_modal_after_ack(body, LeadFormMetadata(response_url=body.get("response_url")))

    def on_source_options(self, ack: Ack, payload: dict, context) -> None:
        """Typeahead for the source field: known sources, plus what was typed (added, or kept under Other)."""
        typed = " ".join((payload.get("value") or "").split())
        with self.cf.transaction() as session:
            found = find_sources(session=session, team_id=context.team_id, typed=typed)
        options = [source_option(source_id, label) for source_id, label in found.matches]
        if found.offer_typed:
            options.append(new_source_option(typed, allow_new_sources=found.allow_new_sources))
        ack(options=[option.to_dict() for option in options[:100]])

    # --- after ack -------------------------------------------------------------------------------

    def _open_modal_after_ack(self, body: dict, metadata: LeadFormMetadata, prefill: RatedLead | None = None):
        team_id = team_of(body)
        with self.cf.transaction() as session:
            options = lead_form_options(session=session, team_id=team_id)
        self.cf.open_modal_after_ack(body, lead_feedback_modal(options, metadata, prefill))

    def _confirm(self, body: dict, metadata: LeadFormMetadata, rated: RatedLead) -> None:
        text, blocks = rating_confirmation(rated)
        self.cf.tell_privately(body, metadata.response_url, text, blocks)

    def _save(self, context, rating: LeadRatingInput, rating_id: int | None = None) -> RatedLead:
        with self.cf.transaction() as session:
            rated = rate_lead(
                session=session, team_id=context.team_id, user_id=context.user_id, rating=rating,
                now=datetime.now(UTC), rating_id=rating_id,
                default_lead_feed_channel=self.cf.settings.lead_feed_channel,
            )
        return rated

    def register(self, app: App) -> None:
        app.command("/leadfeedback", matchers=[_no_text])(self.on_command_without_text)
        app.command("/leadfeedback")(self.on_command)
        app.view(Ids.MODAL)(self.on_rating_submitted)
        app.action(Ids.EDIT)(self.on_edit_clicked)
        app.action(Ids.RATE_ANOTHER)(self.on_rate_clicked)
        app.options(Ids.SOURCE)(self.on_source_options)


def _form_input(values: ViewState) -> LeadRatingInput:
    """The modal's state.values as a validated rating (field errors raise InvalidInput)."""
    kind, _, source_value = (values.choice(Ids.SOURCE) or "").partition(":")
    return LeadRatingInput.parse(dict(
        lead=values.text(Ids.LEAD),
        rating=values.choice(Ids.RATING),
        reasons=values.choices(Ids.REASONS),
        source_id=record_id(source_value) if kind == "id" else None,
        new_source=source_value if kind == "new" else None,
        campaign=values.text(Ids.CAMPAIGN),
        note=values.text(Ids.NOTE),
    ))


def register(app: App, crossfeed: Crossfeed) -> None:
    LeadFeedback(crossfeed).register(app)
