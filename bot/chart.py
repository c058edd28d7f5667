"""The digest's trend chart: 12 weeks of lead quality and pulse alignment per team, as a PNG."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display on servers

import matplotlib.pyplot as plt  # noqa: E402

from bot.digest import WeeklyDigest  # noqa: E402


def trend_chart(digest: WeeklyDigest) -> bytes | None:
    """A PNG of the trend, or None when there is nothing to draw."""
    series = {"Lead quality (avg rating)": digest.trend_leads,
              **{f"Pulse alignment: {side}": values for side, values in digest.trend_pulse.items()}}
    if not any(v is not None for values in series.values() for v in values):
        return None
    labels = [label.split("-")[1] for label in digest.trend_weeks]
    figure, axes = plt.subplots(figsize=(8, 3.6), dpi=110)
    try:
        for name, values in series.items():
            points = [(i, v) for i, v in enumerate(values) if v is not None]
            if points:
                axes.plot([i for i, _ in points], [v for _, v in points], marker="o", label=name)
        axes.set_xticks(range(len(labels)), labels, fontsize=8)
        axes.set_ylim(1, 5)
        axes.set_ylabel("score (1–5)")
        axes.set_title(f"Last {len(labels)} weeks, to {digest.week.label}")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8, loc="lower left")
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)
