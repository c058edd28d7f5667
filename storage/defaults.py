"""A new workspace's reason codes and lead sources.

Reason codes are short and actionable: each bad one routes to a fix area (targeting, scoring,
data or timing). Sources map onto both HubSpot's and Salesforce's lead-source lists.
"""

from __future__ import annotations

from typing import NamedTuple


class DefaultReason(NamedTuple):
    code: str
    label: str
    polarity: str
    fix_area: str | None
    aliases: tuple[str, ...] = ()
    requires_note: bool = False


class DefaultSource(NamedTuple):
    code: str
    label: str
    aliases: tuple[str, ...] = ()


DEFAULT_REASONS: tuple[DefaultReason, ...] = (
    DefaultReason("not-icp", "Not our ICP", "bad", "targeting", ("not-our-icp", "bad-fit", "poor-fit", "wrong-industry", "too-small")),
    DefaultReason("wrong-persona", "Wrong persona / no authority", "bad", "targeting", ("wrong-contact", "no-authority", "wrong-person", "not-decision-maker")),
    DefaultReason("no-budget", "No budget", "bad", "scoring", ("budget",)),
    DefaultReason("no-need", "No need / interest", "bad", "scoring", ("no-interest", "not-interested")),
    DefaultReason("bad-timing", "Bad timing", "bad", "timing", ("timing", "too-early", "not-now")),
    DefaultReason("unreachable", "Unreachable", "bad", "timing", ("no-response", "no-answer", "ghosted")),
    DefaultReason("bad-data", "Bad data", "bad", "data", ("wrong-data", "bad-email", "bad-phone", "invalid")),
    DefaultReason("duplicate", "Duplicate", "bad", "data", ("dupe", "dup")),
    DefaultReason("existing-customer", "Existing customer or open deal", "bad", "data", ("customer", "open-deal", "existing-deal")),
    DefaultReason("spam", "Competitor / student / spam", "bad", "scoring", ("competitor", "student", "junk", "fake")),
    DefaultReason("other", "Other (say why in the note)", "bad", None, (), True),
    DefaultReason("great-fit", "Great fit", "good", None, ("good-fit", "fit")),
    DefaultReason("ready-to-buy", "Ready to buy", "good", None, ("ready", "buying", "hot")),
    DefaultReason("right-persona", "Right persona", "good", None, ("right-contact", "decision-maker")),
)

DEFAULT_SOURCES: tuple[DefaultSource, ...] = (
    DefaultSource("paid-search", "Paid search", ("ppc", "sem", "adwords", "google-ads")),
    DefaultSource("paid-social", "Paid social", ("linkedin-ads", "facebook-ads")),
    DefaultSource("organic-search", "Organic search", ("seo",)),
    DefaultSource("organic-social", "Organic social", ("social",)),
    DefaultSource("email", "Email", ("newsletter", "nurture")),
    DefaultSource("webinar", "Webinar", ()),
    DefaultSource("event", "Event / trade show", ("trade-show", "conference", "tradeshow")),
    DefaultSource("content", "Content download", ("ebook", "whitepaper", "content-download")),
    DefaultSource("referral", "Referral / partner", ("partner",)),
    DefaultSource("outbound", "Outbound list", ("list", "outbound-list", "cold")),
    DefaultSource("direct", "Direct web", ("direct-web", "website", "web", "demo-request")),
    DefaultSource("other", "Other", ()),
)

RATING_LABELS: dict[int, str] = {1: "Junk", 2: "Poor", 3: "Okay", 4: "Good", 5: "Great fit"}
