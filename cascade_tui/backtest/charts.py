"""Precision-vs-recall charts (plotext, rendered into rich) for tune and backtest --sweep."""

from __future__ import annotations

from collections.abc import Sequence

import plotext as plt
from rich.text import Text

from cascade_tui.backtest.tune import Trial


def pr_chart(
    points: Sequence[tuple[float, float]],
    chosen: tuple[float, float] | None,
    title: str,
    chosen_label: str = "chosen",
    min_precision: float = 0.8,
    points_label: str = "candidates",
) -> Text:
    """A precision-vs-recall scatter (plotext) rendered for rich, one point marked."""
    plt.clear_figure()
    plt.plotsize(72, 18)
    plt.theme("clear")
    plt.title(title)
    plt.xlabel("recall")
    plt.ylabel("precision")
    plt.xlim(0, 1.05)
    plt.ylim(0, 1.05)
    if points:
        plt.scatter([p[0] for p in points], [p[1] for p in points], marker="dot", label=points_label)
    if chosen is not None:
        plt.scatter([chosen[0]], [chosen[1]], marker="x", label=chosen_label)
    plt.hline(min_precision)
    return Text.from_ansi(plt.build())


def precision_recall_chart(trials: Sequence[Trial], best: Trial, min_precision: float = 0.8) -> Text:
    """Precision vs recall of every training candidate, the chosen one marked."""
    points = [
        (t.metrics["recall"], t.metrics["precision"])
        for t in trials
        if t.metrics["recall"] is not None and t.metrics["precision"] is not None
    ]
    chosen = None
    if best.metrics["recall"] is not None and best.metrics["precision"] is not None:
        chosen = (best.metrics["recall"], best.metrics["precision"])
    return pr_chart(points, chosen, "training candidates: precision vs recall", min_precision=min_precision)
