"""The report's pictures, drawn with matplotlib from the report's facts, as PNG bytes."""

from __future__ import annotations

import io
from typing import Any, Callable, Dict, List

from common import features

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728")
GREY = "#aaaaaa"


def _png(draw: Callable[[Any], None], size: tuple) -> bytes:
    """Runs `draw(pyplot)` on a new figure of `size` inches; the figure as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure = pyplot.figure(figsize=size)
    try:
        draw(figure)
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="png", dpi=90)
        return out.getvalue()
    finally:
        pyplot.close(figure)


def data(splits: Dict[str, Dict[str, Any]]) -> bytes:
    """Each described split's ratings by stars, by user activity and by movie popularity, as
    shares of its examples."""
    def draw(figure) -> None:
        panels = figure.subplots(1, 3)
        width = 0.8 / max(len(splits), 1)
        for i, (split, numbers) in enumerate(splits.items()):
            total = max(numbers["examples"], 1)
            offset = (i - (len(splits) - 1) / 2) * width
            histogram = numbers["rating_histogram"]
            panels[0].bar([(low + high) / 2 + offset * (high - low or 1)
                           for low, high, _ in histogram],
                          [count / total for _, _, count in histogram],
                          width * min((high - low) or 1 for low, high, _ in histogram),
                          label=split, color=PALETTE[i])
            for panel, key, buckets in ((panels[1], "activity", features.USER_ACTIVITY),
                                        (panels[2], "popularity", features.MOVIE_POPULARITY)):
                names = features.SLICE_BUCKETS[buckets]
                panel.bar([x + offset for x in range(len(names))],
                          [numbers[key].get(name, 0) / total for name in names], width,
                          label=split, color=PALETTE[i])
                panel.set_xticks(range(len(names)))
                panel.set_xticklabels(names, fontsize=8)
        for panel, title in zip(panels, ("ratings by stars", "by the user's activity",
                                         "by the movie's popularity")):
            panel.set_title(title, fontsize=10)
            panel.set_ylabel("share of the split's ratings", fontsize=8)
        panels[0].legend(fontsize=8)
    return _png(draw, (13, 3.4))


def drift(rows: List[Dict[str, Any]]) -> bytes:
    """Each measured distance as a share of its bound (past 1: drifted)."""
    def draw(figure) -> None:
        axis = figure.subplots()
        shares = [row["distance"] / row["bound"] if row["bound"] else 0.0 for row in rows]
        axis.barh([row["feature"] for row in rows], shares,
                  color=[PALETTE[3] if row["past"] else PALETTE[2] for row in rows])
        axis.axvline(1.0, color="black", linestyle="--", linewidth=1)
        axis.set_xlabel("distance / its bound (the dashed line: the bound)", fontsize=8)
        axis.set_xlim(0, max([1.2, *(share * 1.1 for share in shares)]))
        axis.invert_yaxis()
    return _png(draw, (7, 0.6 + 0.45 * len(rows)))


def training(history: Dict[str, List[float]], kept_epoch: int) -> bytes:
    """Loss and validation loss per epoch, and the validation ranking and rating; the kept
    epoch marked."""
    def draw(figure) -> None:
        panels = figure.subplots(1, 2)
        epochs = range(1, len(history["loss"]) + 1)
        for name, colour in (("loss", PALETTE[0]), ("val_loss", PALETTE[1])):
            if name in history:
                panels[0].plot(epochs, history[name], marker=".", color=colour, label=name)
        panels[0].set_title("loss per epoch", fontsize=10)
        for name, colour in (("val_ndcg@10", PALETTE[2]), ("val_rmse", PALETTE[3])):
            if name in history:
                panels[1].plot(epochs, history[name], marker=".", color=colour, label=name)
        panels[1].set_title("validation NDCG@10 and RMSE (stars)", fontsize=10)
        for panel in panels:
            panel.xaxis.get_major_locator().set_params(integer=True)
            panel.axvline(kept_epoch, color="grey", linestyle=":",
                          label=f"kept: epoch {kept_epoch}")
            panel.set_xlabel("epoch", fontsize=8)
            panel.legend(fontsize=8)
    return _png(draw, (12, 3.4))


def slices(rows: List[Dict[str, Any]], top_k: int) -> bytes:
    """By slice: RMSE against the mean rating's, top-k accuracy against the most popular
    movies', and catalogue coverage against theirs."""
    def draw(figure) -> None:
        panels = figure.subplots(1, 3)
        names = [row["slice"] for row in rows]
        for panel, (model, baseline, title) in zip(panels, (
                (lambda r: r["rmse"], lambda r: r["rmse"] / r["rmse_over_baseline"],
                 "RMSE (stars): model, global mean"),
                (lambda r: r["top_k_accuracy"],
                 lambda r: r["top_k_accuracy"] / r["top_k_over_baseline"]
                 if r["top_k_over_baseline"] else 0.0,
                 f"top-{top_k} accuracy: model, most popular"),
                (lambda r: r["coverage"], lambda r: r["baseline_coverage"],
                 "catalogue coverage: model, most popular"))):
            ys = range(len(rows))
            panel.barh([y - 0.2 for y in ys], [model(r) for r in rows], 0.4,
                       color=PALETTE[0], label="model")
            panel.barh([y + 0.2 for y in ys], [baseline(r) for r in rows], 0.4,
                       color=GREY, label="baseline")
            panel.set_yticks(list(ys))
            panel.set_yticklabels(names if panel is panels[0] else [""] * len(names),
                                  fontsize=8)
            panel.invert_yaxis()
            panel.set_title(title, fontsize=10)
            panel.legend(fontsize=8)
    return _png(draw, (13, 0.9 + 0.42 * len(rows)))


def times(rows: List[Dict[str, Any]]) -> bytes:
    """Each component's seconds."""
    def draw(figure) -> None:
        axis = figure.subplots()
        axis.barh([row["component"] for row in rows], [row["seconds"] for row in rows],
                  color=[PALETTE[0] if row["state"] == "ran" else GREY for row in rows])
        axis.set_xlabel("seconds (grey: served from the cache)", fontsize=8)
        axis.invert_yaxis()
    return _png(draw, (7, 0.6 + 0.32 * len(rows)))
