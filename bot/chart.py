"""The digest's trend chart: the alignment index, lead quality and each team's pulse alignment, as a PNG."""

from __future__ import annotations

import io
import math

from bot.digest import WeeklyDigest


def pyplot():
    """matplotlib's pyplot, drawing without a display, imported at the first chart: the import costs about
    0.5 s of CPU, and most processes (`python -m schedules run outbox`, a worker that posts no digest) draw none."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    return plt


def plotted(values: tuple[float | int | None, ...]) -> list[float]:
    """A series as matplotlib draws it: a week without data is NaN, which breaks the line there
    instead of bridging the gap."""
    return [float(v) if v is not None else math.nan for v in values]


def trend_chart(digest: WeeklyDigest) -> bytes | None:
    """A PNG of the trend from the workspace's first week with data, or None when there is nothing to draw."""
    names = {team.side: team.name for team in digest.pulse.results.teams} if digest.pulse else {}
    scores = {"Lead quality: average rating (1–5)": digest.trend_leads,
              **{f"Pulse alignment: {names.get(side, side.title())} (1–5)": values
                 for side, values in digest.trend_pulse.items()}}
    scores = {name: values for name, values in scores.items() if any(v is not None for v in values)}
    index = digest.trend_index if any(v is not None for v in digest.trend_index) else ()
    if not scores and not index:
        return None
    weeks = range(len(digest.trend_weeks))
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(8, 4), dpi=110)
    try:
        lines = []
        if index:
            # The index (0–100) gets its own axis on the right, drawn behind the 1–5 scores.
            index_axes = axes.twinx()
            lines += index_axes.plot(weeks, plotted(index), color="0.35", linestyle="--", marker="s", markersize=4,
                                     label="Alignment index (0–100, right axis)")
            # Aligned with the 1–5 axis (1 is 0, 5 is 100), with room so a 0 or 100 is drawn whole.
            index_axes.set_ylim(-5, 105)
            index_axes.set_yticks([0, 25, 50, 75, 100])
            index_axes.set_ylabel("alignment index (0–100)")
        for name, values in scores.items():
            lines += axes.plot(weeks, plotted(values), marker="o", label=name)
        axes.set_xticks(list(weeks), [label.split("-")[1] for label in digest.trend_weeks], fontsize=8)
        axes.set_xlim(-0.5, len(weeks) - 0.5)  # room for the first and last markers
        axes.set_ylim(0.8, 5.2)  # the same margin as the index axis: 0.2 points is 5 index points
        axes.set_yticks([1, 2, 3, 4, 5])
        axes.set_ylabel("score (1–5)")
        axes.set_title(f"Since {digest.trend_weeks[0]}, to {digest.week.title}", fontsize=10)
        axes.grid(alpha=0.3)
        # The legend sits under the plot, so it never covers a point.
        axes.legend(handles=lines, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2,
                    frameon=False)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight", pad_inches=0.15)
        return buffer.getvalue()
    finally:
        plt.close(figure)
