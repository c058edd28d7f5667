"""Block Kit for lead quality over the last weeks: `/leadfeedback stats` and the marketers' Home section."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.blocks.common import listed_text, local_time, percent, user_text, within_block_limit
from bot.blocks.digest import change_mark
from bot.results.lead_stats import MIN_RANKED_RATINGS, LeadStats, QualityLine, Unranked

LABEL_MAX = 75


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


def _ratings(count: int) -> str:
    return f"{count} rating{'s' if count != 1 else ''}"


def trend_text(line: QualityLine) -> str:
    """Against the window before: an arrow and the change in average, "new", or too few to compare."""
    if line.new:
        return "new"
    if line.change is None:
        return f"too few before ({line.previous_ratings})"
    mark = change_mark(line.change).strip()
    before = f"{line.previous_average:.1f}" if line.previous_average is not None else "–"
    return f"{mark} (from {before})" if mark else f"→ steady (from {before})"


def trend_note(stats: LeadStats) -> str:
    return (f"Trends compare with the {stats.weeks} weeks before: _new_ when there were no ratings then, and only "
            f"from {MIN_RANKED_RATINGS} ratings. Sources and campaigns are ranked from {MIN_RANKED_RATINGS} ratings.")


def reasons_text(line: QualityLine) -> str:
    return " · ".join(f"{user_text(reason.label, LABEL_MAX)} {reason.count}" for reason in line.reasons)


def quality_line(line: QualityLine) -> str:
    """A source or campaign in two lines: its figures and trend, then its top reasons."""
    average = f"{line.average:.1f}/5" if line.average is not None else "–"
    text = (f"*{user_text(line.label, LABEL_MAX)}* · {average} · {_ratings(line.ratings)} · "
            f"{percent(line.good_share)} good, {percent(line.bad_share)} bad · {trend_text(line)}")
    if line.reasons:
        text += f"\n      _Top reasons:_ {reasons_text(line)}"
    return text


def window_text(stats: LeadStats) -> str:
    """"since Nov 2 (28 days)": the window's start in the reader's own time zone."""
    return f"since {local_time(stats.start, '{date_short}')} ({stats.weeks * 7} days)"


def _unranked(unranked: Unranked, what: str) -> str:
    if not unranked.count:
        return ""
    plural = what if unranked.count == 1 else f"{what}s"
    return (f"\n_…plus {unranked.count} {plural} with fewer than {MIN_RANKED_RATINGS} ratings "
            f"({_ratings(unranked.ratings)} in all), too few to rank._")


def ranked_section(stats: LeadStats, kind: str, limit: int | None = None) -> SectionBlock | None:
    """Ranked sources (or campaigns), best average first, each with its reasons and trend; None if none."""
    lines, unranked = ((stats.sources, stats.unranked_sources) if kind == "source"
                       else (stats.campaigns, stats.unranked_campaigns))
    if not lines and not unranked.count:
        return None
    heading = f"*By {kind}, best first*"
    if not lines:
        return SectionBlock(text=heading + _unranked(unranked, kind))
    shown = lines if limit is None else lines[:limit]
    more = len(lines) - len(shown)
    body = listed_text(heading, [quality_line(line) for line in shown], more)
    return SectionBlock(text=body + _unranked(unranked, kind))


def totals_fields(line: QualityLine) -> list[str]:
    average = f"{line.average:.1f}/5" if line.average is not None else "–"
    return [
        f"*Leads rated*\n{line.ratings}",
        f"*Average*\n{average}",
        f"*Good (4–5) / bad (1–2)*\n{percent(line.good_share)} / {percent(line.bad_share)}",
        f"*Trend*\n{trend_text(line)}",
    ]


def stats_message(stats: LeadStats) -> tuple[str, list[Block]]:
    """`/leadfeedback stats`: the whole picture, or the one source or campaign asked for."""
    if stats.focus_kind is not None:
        return _focus_message(stats)
    title = f"Lead quality, last {stats.weeks} weeks"
    blocks: list[Block] = [HeaderBlock(text=title), _context(f"Ratings {window_text(stats)}.")]
    if not stats.total.ratings:
        blocks.append(SectionBlock(text=(
            f"No leads were rated in the last {stats.weeks} weeks. Reps rate a lead in one line: "
            "`/leadfeedback ACME-4411 2 no-budget source:webinar`.")))
        return f"{title}: no ratings", blocks
    blocks.append(SectionBlock(fields=totals_fields(stats.total)))
    for kind in ("source", "campaign"):
        if (section := ranked_section(stats, kind)) is not None:
            blocks.append(section)
    other = 12 if stats.weeks == 4 else 4
    blocks.append(_context(f"{trend_note(stats)} `/leadfeedback stats {other}` covers {other} weeks; "
                           "`/leadfeedback stats webinar` (or a campaign) shows one."))
    average = f"{stats.total.average:.1f}/5" if stats.total.average is not None else "–"
    return f"{title}: {_ratings(stats.total.ratings)}, average {average}", within_block_limit(blocks)


def _focus_message(stats: LeadStats) -> tuple[str, list[Block]]:
    label = user_text(stats.focus_label or "", LABEL_MAX)
    title = f"Lead quality, last {stats.weeks} weeks: {stats.focus_kind} {label}"
    line = stats.focus
    blocks: list[Block] = [SectionBlock(text=f"*{title}*"), _context(f"Ratings {window_text(stats)}.")]
    if line is None or not line.ratings:
        blocks.append(SectionBlock(text=f"No leads from {stats.focus_kind} *{label}* were rated in the last "
                                        f"{stats.weeks} weeks."))
        return f"{title}: no ratings", blocks
    blocks.append(SectionBlock(fields=totals_fields(line)))
    if line.reasons:
        blocks.append(SectionBlock(text=f"*Top reasons*\n{reasons_text(line)}"))
    if not line.ranked:
        blocks.append(_context(f"Only {_ratings(line.ratings)}: too few to rank (from {MIN_RANKED_RATINGS})."))
    blocks.append(_context(f"{trend_note(stats)} `/leadfeedback stats {stats.weeks}` shows every source and "
                           "campaign."))
    average = f"{line.average:.1f}/5" if line.average is not None else "–"
    return f"{title}: {_ratings(line.ratings)}, average {average}", blocks
