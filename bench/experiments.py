"""The three-model comparison (rating-only, retrieval-only, multi-task) against the peers.

Each seed gives one split (the ExampleGen's own loaders and splitters) and one training of
each setting; the peers (most-popular, and the library models of bench/peers.py, each
tuned on a holdout carved from train) see the same split and vocabularies and are scored by
the same metric code. Ids are indexed as the Transform does: a vocabulary of the train
split's ids and one OOV bucket (index == vocabulary size) for ids seen only in eval. Results
go to `<report_dir>/results.json`, `results.md` and `results.png`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Callable, Dict, List, Sequence, Tuple

import numpy as np
import tensorflow as tf

from bench import peers as peers_lib
from common.config_error import ConfigError
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
QUALITY = ("rmse_stars", "top10_5star", "top10_5star_seen_excluded", "top100", "recall@10",
           "ndcg@10")
METRICS = ("rmse_stars", "rmse_unit", "top10_5star", "top10_5star_seen_excluded", "top100",
           "recall@10", "ndcg@10", metrics.COVERAGE, "train_seconds", "examples_per_second",
           "epochs")
# By slice (the Evaluator's slices, trainer.metrics.slices): metric -> its heading.
SLICE_METRICS = {metrics.TOP_10: "top-10 accuracy on all eval pairs, seen excluded",
                 metrics.COVERAGE: "catalogue coverage of the top 10, seen excluded",
                 "rmse_stars": "RMSE (stars)"}
# Targets of the multi-task model: an absolute RMSE; the ranking metrics at least a multiple
# of the best ranking peer's; and within SPECIALISED_GAP of the better specialised setting on
# every metric. By release (issue 11 for ml-100k, issue 22 for ml-1m); other data: ml-100k's.
TARGETS = {"ml-100k": (0.895, 1.0), "ml-1m": (0.845, 1.05)}  # (max RMSE, x best peer)
BEAT_PEERS_ON = ("top10_5star_seen_excluded", "ndcg@10")
SPECIALISED_GAP = 0.01
# Variants of the multi-task model that a run can add (--variants): name -> ModelConfig
# overrides. Each is held to VARIANT_GAP of the multi-task model's ranking (BEAT_PEERS_ON).
# "in-batch": the in-batch softmax that catalogues above catalogue_softmax_limit take
# (ml-10m and larger), forced on a catalogue the exact softmax covers (issue 22).
VARIANTS: Dict[str, Dict[str, Any]] = {"in-batch": {"catalogue_softmax_limit": 0}}
VARIANT_GAP = 0.05


def variant_name(variant: str) -> str:
    """The report's name of a variant's model."""
    return f"multi-task {variant}"


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
    """The model's retrieval metrics on `eval_set` (metrics.retrieval_report) and the RMSE of
    its ratings clipped to [0, 1], on the unit scale and in stars."""
    users = model.all_user_vectors()

    def scorer(block: np.ndarray) -> np.ndarray:
        return model.retrieval_scores(tf.gather(users, block)).numpy()

    report = metrics.retrieval_report(scorer, train_set, eval_set, num_users, num_movies)
    user_index = tf.constant(eval_set.user_index)
    movie_index = tf.constant(eval_set.movie_index)
    predicted = model.rate(tf.gather(users, user_index), model.movie_vectors(movie_index),
                           user_index, movie_index).numpy()
    return metrics.combined(report, metrics.rating_report(
        predicted, eval_set, metrics.slices(train_set, eval_set, num_users, num_movies)))


def most_popular(train_set: Ratings, eval_set: Ratings, num_users: int,
                 num_movies: int) -> Dict[str, float]:
    """The most-popular baseline's scores: movies ranked by training rating count, and the mean
    training rating as every rating's prediction."""
    scorer = metrics.most_popular_scorer(train_set, num_movies)
    report = metrics.retrieval_report(scorer, train_set, eval_set, num_users, num_movies)
    return metrics.combined(report, metrics.rating_report(
        np.full(len(eval_set), train_set.rating.mean()), eval_set,
        metrics.slices(train_set, eval_set, num_users, num_movies)))


def run(data_config: DataConfig, model_config: ModelConfig, seeds: Sequence[int],
        report_dir: str, log: Callable[[str], None] = print,
        peers: Sequence[peers_lib.Peer] = (), holdout: bool = False,
        variants: Sequence[str] = ()) -> Dict:
    """Trains and scores every setting, every variant (VARIANTS) and every peer on every
    seed; writes and returns the report. With `holdout`, eval is never read: each seed's
    train is split again into a training part and a seeded holdout (as the peers tune), for
    choosing defaults."""
    variants = list(dict.fromkeys(variants))  # each once, in order
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        raise ConfigError(f"--variants: unknown {', '.join(unknown)}; choose from "
                          f"{' '.join(VARIANTS)}")
    configs = {name: dataclasses.replace(model_config, rating_weight=rating_weight,
                                         retrieval_weight=retrieval_weight)
               for name, (rating_weight, retrieval_weight) in SETTINGS.items()}
    for variant in variants:
        configs[variant_name(variant)] = dataclasses.replace(configs["multi-task"],
                                                             **VARIANTS[variant])
    names = (BASELINE, *(peer.name for peer in peers), *configs)
    runs: Dict[str, List[Dict[str, float]]] = {name: [] for name in names}
    chosen: Dict[str, List[Dict]] = {peer.name: [] for peer in peers}
    for seed in seeds:
        split_config = dataclasses.replace(data_config, split_seed=seed)
        data, is_eval = sources.load_split(split_config)
        train_set, eval_set, num_users, num_movies = index_split(data, is_eval)
        if holdout:
            train_set, eval_set = train_set.split_off(peers_lib.HOLDOUT_FRACTION, seed=seed)
        log(f"seed {seed}: {len(train_set)} train / {len(eval_set)} "
            f"{'held-out' if holdout else 'eval'} ratings, "
            f"{num_users} users, {num_movies} movies")
        runs[BASELINE].append(most_popular(train_set, eval_set, num_users, num_movies))
        for peer in peers:
            scores, params = peers_lib.tune_and_score(peer, train_set, eval_set, num_users,
                                                      num_movies, seed)
            runs[peer.name].append(scores)
            chosen[peer.name].append(params)
            log(f"  {peer.name} {params}: {_line(scores)}")
        for name, config in configs.items():
            result = train.fit(dataclasses.replace(config, seed=seed), train_set, num_users,
                               num_movies, verbose=0)
            scores = evaluate(result.model, train_set, eval_set, num_users, num_movies)
            scores.update(train_seconds=result.seconds,
                          examples_per_second=result.examples_per_second,
                          epochs=float(result.epochs_run))
            runs[name].append(scores)
            log(f"  {name}: {_line(scores)}")
    report = _summarise(runs, chosen, data_config, model_config, seeds, peers, variants)
    report["scored_on"] = (f"a holdout of {peers_lib.HOLDOUT_FRACTION:.0%} of train"
                           if holdout else "eval")
    write_report(report, report_dir)
    return report


def _line(scores: Dict[str, Any]) -> str:
    """A model's overall metrics of one seed, for the log."""
    return ", ".join(f"{k} {v:.4f}" for k, v in scores.items() if k != metrics.SLICES)


def _targets(summary: Dict, peers: Sequence[peers_lib.Peer], data: str,
             variants: Sequence[str] = ()) -> List[Dict]:
    multi = summary["multi-task"]
    targets = []
    max_rmse, factor = TARGETS.get(data, TARGETS["ml-100k"])

    def target(metric: str, text: str, met: bool, model: str = "multi-task") -> None:
        targets.append({"model": model, "metric": metric, "target": text,
                        "value": summary[model][metric]["mean"], "met": bool(met)})

    target("rmse_stars", f"<= {max_rmse}", multi["rmse_stars"]["mean"] <= max_rmse)
    ranking = [peer.name for peer in peers if peer.kind == peers_lib.RANKING]
    for metric in BEAT_PEERS_ON if ranking else ():
        best = max(ranking, key=lambda name: summary[name][metric]["mean"])
        bound = factor * summary[best][metric]["mean"]
        times = "" if factor == 1.0 else f"{factor:g} x "
        target(metric, f">= {times}{best}'s ({bound:.4f})", multi[metric]["mean"] >= bound)
    for metric in QUALITY:
        specialised = [summary[name][metric]["mean"] for name in ("rating-only",
                                                                   "retrieval-only")]
        lower_is_better = metric.startswith("rmse")
        best = min(specialised) if lower_is_better else max(specialised)
        value = multi[metric]["mean"]
        gap = (value - best) / best if lower_is_better else (best - value) / best
        target(metric, f"within {SPECIALISED_GAP:.0%} of the better specialised model "
                       f"({best:.4f})", gap <= SPECIALISED_GAP)
    for variant in map(variant_name, variants):
        for metric in BEAT_PEERS_ON:
            bound = multi[metric]["mean"]
            target(metric, f"within {VARIANT_GAP:.0%} of multi-task ({bound:.4f})",
                   summary[variant][metric]["mean"] >= (1.0 - VARIANT_GAP) * bound, variant)
    return targets


def _summarise(runs, chosen, data_config: DataConfig, model_config: ModelConfig,
               seeds: Sequence[int], peers: Sequence[peers_lib.Peer],
               variants: Sequence[str]) -> Dict:
    summary = {
        name: {metric: {"mean": float(np.mean([r[metric] for r in results])),
                        "std": float(np.std([r[metric] for r in results]))}
               for metric in METRICS if metric in results[0]}
        for name, results in runs.items()
    }
    header = files.report_header(data_config.source)
    by_slice = {name: _summarise_slices([r.get(metrics.SLICES, {}) for r in results])
                for name, results in runs.items()}
    return {
        **header,
        "split": data_config.split, "seeds": list(seeds),
        "model_config": dataclasses.asdict(model_config),
        "variants": {variant_name(v): VARIANTS[v] for v in variants},
        "results": summary, "slices": by_slice, "per_seed": runs, "peer_parameters": chosen,
        "targets": _targets(summary, peers, header["data"], variants),
    }


def _summarise_slices(seeds: List[Dict[str, Dict[str, float]]]
                      ) -> Dict[str, Dict[str, Dict[str, float]]]:
    """{slice: {metric: {"mean", "std"}}} over the seeds that have the metric in the slice
    (a slice can be empty on one seed of small data)."""
    summary: Dict[str, Dict[str, Dict[str, float]]] = {}
    for seed in seeds:
        for name, values in seed.items():
            for metric in values:
                found = [s[name][metric] for s in seeds if metric in s.get(name, {})]
                summary.setdefault(name, {})[metric] = {"mean": float(np.mean(found)),
                                                        "std": float(np.std(found))}
    return summary


def write_report(report: Dict, report_dir: str) -> None:
    """results.json, results.md, results.png and slices.png; each is written whole, then
    moved in place."""
    files.publish_text(os.path.join(report_dir, "results.json"), json.dumps(report, indent=2))
    files.publish_text(os.path.join(report_dir, "results.md"), markdown(report))
    files.publish(os.path.join(report_dir, "results.png"), lambda path: _plot(report, path))
    files.publish(os.path.join(report_dir, "slices.png"),
                  lambda path: _plot_slices(report, path))


def markdown(report: Dict) -> str:
    """The text of results.md: each model's means (± std), every seed's quality metrics, the
    peers' hyper-parameters, the targets and the model configuration."""
    shown = ("rmse_stars", "rmse_unit", "top10_5star", "top10_5star_seen_excluded", "top100",
             "recall@10", "ndcg@10", metrics.COVERAGE, "train_seconds", "examples_per_second")
    lines = [
        f"# Models and peers: {report['data']}, split {report['split']}, "
        f"seeds {report['seeds']}",
        "",
        f"Scored on {report['scored_on']}. Mean (± std) over seeds; {report['machine']}; "
        f"{report['date']}.",
        "Metric definitions: docs/metrics-and-experiments.md, 'Metrics'. A peer's train_seconds "
        "is its final fit on all of train (after tuning).",
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
            mean, std = values[metric]["mean"], values[metric]["std"]
            cells.append(f"{mean:.{digits}f} ± {std:.{digits}f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += _slice_tables(report)
    lines += ["", "## Every seed", "", "| model | seed | " + " | ".join(QUALITY) + " |",
              "|---|---|" + "---|" * len(QUALITY)]
    for name, results in report["per_seed"].items():
        for seed, values in zip(report["seeds"], results):
            cells = [f"{values[m]:.4f}" if m in values else "" for m in QUALITY]
            lines.append(f"| {name} | {seed} | " + " | ".join(cells) + " |")
    if report["peer_parameters"]:
        lines += ["", "## Peers' hyper-parameters", "",
                  f"Picked per seed on a holdout of {peers_lib.HOLDOUT_FRACTION:.0%} of train "
                  "(NDCG@10 for ranking peers, RMSE for rating peers), then refitted on all of "
                  "train; grids in bench/peers.py.", "", "| peer | per seed |", "|---|---|"]
        for name, chosen in report["peer_parameters"].items():
            lines.append(f"| {name} | " + "; ".join(
                ", ".join(f"{k}={v}" for k, v in params.items()) for params in chosen) + " |")
    lines += ["", "## Targets", "",
              "| model | metric | target | value | met |", "|---|---|---|---|---|"]
    for target in report["targets"]:
        lines.append(f"| {target['model']} | {target['metric']} | {target['target']} | "
                     f"{target['value']:.4f} | {'yes' if target['met'] else 'no'} |")
    lines += ["", "Model configuration (the multi-task default; the other settings change only "
              "the two loss weights):", "", "```",
              json.dumps(report["model_config"], indent=1), "```", ""]
    for name, overrides in report["variants"].items():
        lines += [f"{name}: the multi-task model with "
                  + ", ".join(f"{k}={v}" for k, v in overrides.items()) + ".", ""]
    return "\n".join(lines)


def _slice_tables(report: Dict) -> List[str]:
    """The Slices section of results.md: each slice's ratings, then one table a metric of
    SLICE_METRICS, a row a model that has it."""
    names = list(report["slices"][BASELINE])
    lines = ["", "## Slices", "",
             "The Evaluator's slices (docs/gate-and-push.md): every eval pair, then by the "
             "user's number of train ratings and by the movie's popularity in train (head, "
             "torso and tail each hold a third of train's ratings). Mean (± std) over seeds.",
             "", "| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names),
             "| ratings | " + " | ".join(
                 f"{report['slices'][BASELINE][name][metrics.RATINGS]['mean']:,.0f}"
                 for name in names) + " |"]
    for metric, heading in SLICE_METRICS.items():
        lines += ["", f"### {heading}", "", "| model | " + " | ".join(names) + " |",
                  "|---|" + "---|" * len(names)]
        for model, by_slice in report["slices"].items():
            if any(metric in by_slice.get(name, {}) for name in names):
                lines.append(f"| {model} | " + " | ".join(
                    f"{by_slice[name][metric]['mean']:.4f} ± {by_slice[name][metric]['std']:.4f}"
                    if metric in by_slice.get(name, {}) else "" for name in names) + " |")
    return lines


def _plot(report: Dict, path: str) -> None:
    """One panel per metric: each model's mean as a bar, every seed as a dot."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    panels = (("rmse_stars", "RMSE (stars, lower is better)"),
              ("top10_5star_seen_excluded", "top-10 on 5-star pairs, seen excluded"),
              ("top100", "top-100 on all eval pairs"),
              ("ndcg@10", "NDCG@10, seen excluded"),
              (metrics.COVERAGE, "catalogue coverage of the top 10"))
    figure, axes = pyplot.subplots(1, len(panels), figsize=(4.5 * len(panels), 4.5))
    colours = pyplot.get_cmap("tab10").colors
    for axis, (metric, title) in zip(axes, panels):
        names = [n for n in report["results"] if metric in report["results"][n]]
        for x, name in enumerate(names):
            axis.bar(x, report["results"][name][metric]["mean"],
                     color=colours[list(report["results"]).index(name) % len(colours)])
            values = [r[metric] for r in report["per_seed"][name]]
            axis.plot([x] * len(values), values, "k.", markersize=4)
        axis.set_xticks(range(len(names)))
        axis.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
        axis.set_title(title, fontsize=10)
    figure.suptitle(f"{report['data']}, {report['split']} split, seeds {report['seeds']} "
                    "(bars: mean; dots: seeds)")
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)
    pyplot.close(figure)


def _plot_slices(report: Dict, path: str) -> None:
    """One panel a metric of SLICE_METRICS: for each slice, a bar a model (its mean)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    names = list(report["slices"][BASELINE])
    models = list(report["slices"])
    colours = pyplot.get_cmap("tab10").colors
    figure, axes = pyplot.subplots(len(SLICE_METRICS), 1,
                                   figsize=(14, 3.6 * len(SLICE_METRICS)))
    for axis, (metric, heading) in zip(axes, SLICE_METRICS.items()):
        shown = [m for m in models
                 if any(metric in report["slices"][m].get(name, {}) for name in names)]
        width = 0.8 / max(len(shown), 1)
        for i, model in enumerate(shown):
            by_slice = report["slices"][model]
            axis.bar([x + (i - (len(shown) - 1) / 2) * width for x in range(len(names))],
                     [by_slice.get(name, {}).get(metric, {}).get("mean", np.nan)
                      for name in names],
                     width, label=model, color=colours[models.index(model) % len(colours)])
        axis.set_xticks(range(len(names)))
        axis.set_xticklabels(names, fontsize=8)
        axis.set_title(heading, fontsize=10)
        axis.legend(fontsize=7, ncol=len(shown), loc="upper center",
                    bbox_to_anchor=(0.5, -0.12), frameon=False)
    figure.suptitle(f"{report['data']}, {report['split']} split, by slice "
                    f"(mean over seeds {report['seeds']})")
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)
    pyplot.close(figure)
