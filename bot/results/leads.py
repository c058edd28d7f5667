"""What the lead-rating services return and the form limits: the types /leadfeedback's renderers read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.defaults import RATING_LABELS

LEAD_MAX = 200
CAMPAIGN_MAX = 150
NOTE_MAX = 1000
SOURCE_LABEL_MAX = 60

QUICK_USAGE = (
    '`/leadfeedback <lead> <1-5> [reason …] [source:x] [campaign:x] ["note"]`\n'
    'e.g. `/leadfeedback ACME-4411 2 no-budget wrong-persona source:webinar "only wanted pricing"`'
)


@dataclass(frozen=True)
class RatedLead:
    """A rating as people see it."""

    id: int
    lead_ref: str
    rating: int
    reasons: tuple[str, ...]
    source: str | None
    reason_codes: tuple[str, ...]
    source_id: int | None
    # A source the rep typed that isn't one of the workspace's: kept as text under "other".
    source_text: str | None
    campaign: str | None
    note: str | None
    rater_user_id: str
    updated_at: datetime
    created: bool = False
    source_code: str | None = None

    @property
    def rating_label(self) -> str:
        return RATING_LABELS[self.rating]

    @property
    def source_shown(self) -> str | None:
        """The source as people read it: "Other: webinarz" for one typed but not (yet) a source."""
        if self.source_text:
            return f"{self.source or 'Other'}: {self.source_text}"
        return self.source


@dataclass(frozen=True)
class RatingStart:
    """What a new rating of a known lead starts from (a handed-off lead's Rate button): its reference, source
    and campaign."""

    lead_ref: str
    source_id: int | None = None
    source: str | None = None
    source_text: str | None = None
    campaign: str | None = None


@dataclass(frozen=True)
class LeadFormOptions:
    """What the rating modal offers: the workspace's reason codes, and whether a typed source is added."""

    good_reasons: tuple[tuple[str, str], ...]
    bad_reasons: tuple[tuple[str, str], ...]
    allow_new_sources: bool = False
    qualified_lead_definition: str | None = None  # what both teams call a qualified lead, shown above the form
