"""The three-model comparison: rating-only, retrieval-only and multi-task, plus most-popular.

Each seed gives one split (the ExampleGen's own loaders and splitters) and one training of
each setting. Ids are indexed as the Transform does: a vocabulary of the train split's ids
and one OOV bucket (index == vocabulary size) for ids seen only in eval. Results go to
`<report_dir>/results.json`, `results.md` and `results.png`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np
import tensorflow as tf

from components.movielens import sources
from components.movielens.config import DataConfig
from pipeline import files
from trainer import metrics, train
from trainer.config import ModelConfig
from trainer.data import Ratings
from trainer.model import MultiTaskRecommender

SETTINGS = {  # name -> (rating_weight, retrieval_weight)
    "rating-only": (1.0, 0.0),
    "retrieval-only": (0.0, 1.0),
    "multi-task": (1.0, 1.0),
}
BASELINE = "most-popular"
METRICS = ("rmse_stars", "rmse_unit", "top10_5star", "top10_5star_seen_excluded", "top100",
           "recall@10", "ndcg@10", "train_seconds", "examples_per_second", "epochs")
# The targets for the multi-task model: (metric, comparison, bound).
TARGETS = (("rmse_stars", "<=", 0.905), ("top10_5star_seen_excluded", ">=", 0.24),
           ("top100", ">=", 0.40))


def index_split(data, is_eval: np.ndarray) -> Tuple[Ratings, Ratings, int, int]:
    """(train, eval, num_users, num_movies) with the Transform's id-to-index semantics."""
    def vocabulary(ids: np.ndarray) -> Dict[str, int]:
        return {value: index for index, value in enumerate(np.unique(ids[~is_eval]))}

    users, movies = vocabulary(data.user_ids), vocabulary(data.movie_ids)

    def ratings(mask: np.ndarray) -> Ratings:
        return Ratings(
            np.array([users.get(u, len(users)) for u in data.user_ids[mask]], dtype=np.int64),
            np.array([movies.get(m, len(movies)) for m in data.movie_ids[mask]],
                     dtype=np.int64),
            np.clip((data.ratings[mask] - 1.0) / 4.0, 0.0, 1.0).astype(np.float32))

    return ratings(~is_eval), ratings(is_eval), len(users), len(movies)


def evaluate(model: MultiTaskRecommender, train_set: Ratings, eval_set: Ratings,
             num_users: int, num_movies: int) -> Dict[str, float]:
    users = model.all_user_vectors()
    movies = model.movie_embedding.embeddings[:num_movies]
    scorer = metrics.embedding_scorer(users.numpy(), np.asarray(movies))
    report = metrics.retrieval_report(scorer, train_set, eval_set, num_users, num_movies)
    user_index = tf.constant(eval_set.user_index)
    movie_index = tf.constant(eval_set.movie_index)
    predicted = model.rate(tf.gather(users, user_index), model.movie_vectors(movie_index),
                           user_index, movie_index).numpy()
    report["rmse_unit"] = metrics.rmse(np.clip(predicted, 0.0, 1.0), eval_set.rating)
    report["rmse_stars"] = 4.0 * report["rmse_unit"]
    return report


def most_popular(train_set: Ratings, eval_set: Ratings, num_users: int,
                 num_movies: int) -> Dict[str, float]:
    scorer = metrics.most_popular_scorer(train_set, num_movies)
    report = metrics.retrieval_report(scorer, train_set, eval_set, num_users, num_movies)
    report["rmse_unit"] = metrics.rmse(np.full(len(eval_set), train_set.rating.mean()),
                                       eval_set.rating)
    report["rmse_stars"] = 4.0 * report["rmse_unit"]
    return report


def run(data_config: DataConfig, model_config: ModelConfig, seeds: Sequence[int],
        report_dir: str, log: Callable[[str], None] = print) -> Dict:
    """Trains and scores every setting on every seed; writes and returns the report."""
    runs: Dict[str, List[Dict[str, float]]] = {name: [] for name in (BASELINE, *SETTINGS)}
    for seed in seeds:
        split_config = dataclasses.replace(data_config, split_seed=seed)
        data, is_eval = sources.load_split(split_config)
        train_set, eval_set, num_users, num_movies = index_split(data, is_eval)
        log(f"seed {seed}: {len(train_set)} train / {len(eval_set)} eval ratings, "
            f"{num_users} users, {num_movies} movies")
        runs[BASELINE].append(most_popular(train_set, eval_set, num_users, num_movies))
        for name, (rating_weight, retrieval_weight) in SETTINGS.items():
            config = dataclasses.replace(model_config, rating_weight=rating_weight,
                                         retrieval_weight=retrieval_weight, seed=seed)
            result = train.fit(config, train_set, num_users, num_movies, verbose=0)
            scores = evaluate(result.model, train_set, eval_set, num_users, num_movies)
            scores.update(train_seconds=result.seconds,
                          examples_per_second=result.examples_per_second,
                          epochs=float(result.epochs_run))
            runs[name].append(scores)
            log(f"  {name}: " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()))
    report = _summarise(runs, data_config, model_config, seeds)
    write_report(report, report_dir)
    return report


def _summarise(runs, data_config: DataConfig, model_config: ModelConfig,
               seeds: Sequence[int]) -> Dict:
    summary = {
        name: {metric: {"mean": float(np.mean([r[metric] for r in results])),
                        "std": float(np.std([r[metric] for r in results]))}
               for metric in METRICS if metric in results[0]}
        for name, results in runs.items()
    }
    multi = summary["multi-task"]
    targets = []
    for metric, comparison, bound in TARGETS:
        value = multi[metric]["mean"]
        met = value <= bound if comparison == "<=" else value >= bound
        targets.append({"metric": metric, "target": f"{comparison} {bound}", "value": value,
                        "met": bool(met)})
    for metric, _, _ in TARGETS:
        better = "min" if metric.startswith("rmse") else "max"
        specialised = [summary[name][metric]["mean"] for name in ("rating-only",
                                                                   "retrieval-only")]
        best = min(specialised) if better == "min" else max(specialised)
        value = multi[metric]["mean"]
        gap = (value - best) / best if better == "min" else (best - value) / best
        targets.append({"metric": metric, "target": "within 2% of the better specialised "
                        f"model ({best:.4f})", "value": value, "met": bool(gap <= 0.02)})
    return {
        **files.report_header(data_config.source),
        "split": data_config.split, "seeds": list(seeds),
        "model_config": dataclasses.asdict(model_config),
        "results": summary, "per_seed": runs, "targets": targets,
    }


def write_report(report: Dict, report_dir: str) -> None:
    """results.json, results.md and results.png; each is written whole, then moved in place."""
    files.publish_text(os.path.join(report_dir, "results.json"), json.dumps(report, indent=2))
    files.publish_text(os.path.join(report_dir, "results.md"), markdown(report))
    files.publish(os.path.join(report_dir, "results.png"), lambda path: _plot(report, path))


def markdown(report: Dict) -> str:
    shown = ("rmse_stars", "rmse_unit", "top10_5star", "top10_5star_seen_excluded", "top100",
             "recall@10", "ndcg@10", "train_seconds", "examples_per_second")
    lines = [
        f"# Three-model comparison: {report['data']}, split {report['split']}, "
        f"seeds {report['seeds']}",
        "",
        f"Mean (± std) over seeds; {report['machine']}; {report['date']}.",
        "Metric definitions: README, 'Metrics'.",
        "",
        "| model | " + " | ".join(shown) + " |",
        "|---|" + "---|" * len(shown),
    ]
    for name, values in report["results"].items():
        cells = []
        for metric in shown:
            if metric not in values:
                cells.append("")
                continue
            digits = 0 if metric == "examples_per_second" else (1 if metric == "train_seconds"
                                                                else 4)
            cells.append(f"{values[metric]['mean']:.{digits}f} ± {values[metric]['std']:.{digits}f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "## Targets for the multi-task model", "",
              "| metric | target | value | met |", "|---|---|---|---|"]
    for target in report["targets"]:
        lines.append(f"| {target['metric']} | {target['target']} | {target['value']:.4f} | "
                     f"{'yes' if target['met'] else 'no'} |")
    lines += ["", "Model configuration (the multi-task default; the other settings change only "
              "the two loss weights):", "", "```",
              json.dumps(report["model_config"], indent=1), "```", ""]
    return "\n".join(lines)


def _plot(report: Dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    names = list(report["results"])
    panels = (("rmse_stars", "RMSE (stars, lower is better)"),
              ("top10_5star_seen_excluded", "top-10 on 5-star pairs, seen excluded"),
              ("top100", "top-100 on all eval pairs"),
              ("ndcg@10", "NDCG@10, seen excluded"))
    figure, axes = pyplot.subplots(1, len(panels), figsize=(16, 4))
    for axis, (metric, title) in zip(axes, panels):
        means = [report["results"][n][metric]["mean"] for n in names]
        errors = [report["results"][n][metric]["std"] for n in names]
        axis.bar(range(len(names)), means, yerr=errors,
                 color=["#999999", "#4c72b0", "#55a868", "#c44e52"][: len(names)])
        axis.set_xticks(range(len(names)))
        axis.set_xticklabels(names, rotation=20)
        axis.set_title(title, fontsize=10)
    figure.suptitle(f"{report['data']}, {report['split']} split, seeds {report['seeds']}")
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)
    pyplot.close(figure)
