"""The report as one self-contained HTML page: its pictures inline (data: URIs), no script,
and a Content-Security-Policy that lets the page load nothing from anywhere.

Every number the page shows from the run is marked `<span data-fact="KEY"
data-value="VALUE">`, VALUE at full precision, so that a reader (tests/test_run_report.py)
can check the page against the run's own records.
"""

from __future__ import annotations

import base64
import html
from typing import Any, Callable, Dict, List, Optional

from components.run_report import plots

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222;
       padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child, td.text { text-align: left; }
img { max-width: 100%; display: block; margin: 0.8em 0; }
.verdict { font-size: 1.1em; padding: 0.6em 0.8em; border-radius: 4px; }
.good { background: #e6f4ea; } .bad { background: #fce8e6; }
.note { color: #666; font-size: 0.9em; }
"""


def fact(key: str, value: Any, spec: str = "") -> str:
    """A number of the run, shown formatted by `spec` and marked with its full value."""
    return (f'<span data-fact="{html.escape(key)}" data-value="{value!r}">'
            f"{format(value, spec)}</span>")


def _image(png: bytes, alt: str) -> str:
    return (f'<img alt="{html.escape(alt)}" '
            f'src="data:image/png;base64,{base64.b64encode(png).decode()}">')


def _table(header: List[str], rows: List[List[str]], text: tuple = ()) -> str:
    """A table; the columns `text` (their indexes) are words, aligned left."""
    head = "".join(f"<th>{cell}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td class=\"text\">{cell}</td>" if i in text
                                    else f"<td>{cell}</td>" for i, cell in enumerate(row))
                   + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _text(value: Any) -> str:
    return html.escape(str(value))


def _verdict(gate: Dict[str, Any], outcome: Dict[str, Any]) -> str:
    if not gate["passed"]:
        reasons = "; ".join(gate["failures"]) or "see the Evaluator"
        return f'<p class="verdict bad">Not blessed, nothing pushed: {_text(reasons)}.</p>'
    if outcome["pushed_to"] is None:
        return (f'<p class="verdict bad">Blessed, not pushed: '
                f'{_text(outcome["push_reason"])}.</p>')
    return (f'<p class="verdict good">Blessed and pushed to '
            f'<code>{_text(outcome["pushed_to"])}</code>.</p>')


def _servable(outcome: Dict[str, Any]) -> str:
    return (f"<p>ServableCheck ({'servable' if outcome['servable'] else 'NOT servable'}): "
            f"{_text(outcome['servable_reason'])}.</p>")


def _data(data: Dict[str, Any]) -> str:
    splits = data["splits"]
    rows = [[_text(split), fact(f"data.{split}.examples", numbers["examples"], ","),
             fact(f"data.{split}.users", numbers["users"], ","),
             fact(f"data.{split}.movies", numbers["movies"], ","),
             fact(f"data.{split}.rating_mean", numbers["rating_mean"], ".3f"),
             "<br>".join(f"{_text(title)} ({count:,})"
                         for title, count in numbers["most_rated"])]
            for split, numbers in splits.items()]
    anomalies = ("<p>ExampleValidator found no anomaly against the schema.</p>"
                 if not data["anomalies"] else "<ul>" + "".join(
                     f"<li><code>{_text(a['name'])}</code>: {_text(a['text'])}"
                     f"{' (accepted by the config)' if a['accepted'] else ''}</li>"
                     for a in data["anomalies"]) + "</ul>")
    return "".join([
        "<h2>Data</h2>",
        "<p>TFDV's statistics of the seeded samples StatisticsGen describes "
        "(<code>train_sample</code>, <code>eval_sample</code>):</p>",
        _table(["split", "ratings", "users", "movies", "mean stars", "most rated"], rows,
               text=(5,)),
        _image(plots.data(splits), "ratings by stars, user activity and movie popularity"),
        "<h3>Anomalies</h3>", anomalies,
        f"<p>Of eval's ratings, {fact('data.unseen_users', data['unseen_users'], '.2%')} "
        f"are of users and {fact('data.unseen_movies', data['unseen_movies'], '.2%')} of "
        f"movies that train never rated (bounds: {data['max_unseen_users']:.0%} and "
        f"{data['max_unseen_movies']:.0%}).</p>",
    ])


def _drift(drift: Dict[str, Any]) -> str:
    if not drift["compared_with"]:
        return f"<h2>Drift</h2><p>Not measured: {_text(drift['not_compared'])}.</p>"
    rows = [[_text(row["feature"]), _text(row["comparator"]),
             fact(f"drift.{row['feature']}", row["distance"], ".4f"), f"{row['bound']:g}",
             "past the bound" if row["past"] else "within"] for row in drift["rows"]]
    past = [row["feature"] for row in drift["rows"] if row["past"]]
    verdict = ("Every distance is within its bound." if not past else
               f"Past the bound: {_text(', '.join(past))}" +
               (" (the run stops on drift: block_on_drift)." if drift["blocking"] else
                " (reported only; --validation block_on_drift=true stops such a run)."))
    return "".join([
        "<h2>Drift</h2>",
        f"<p>This run's training data against the data that trained the served version "
        f"<code>{_text(drift['compared_with'])}</code> (TFDV's comparators). {verdict}</p>",
        _table(["feature", "comparator", "distance", "bound", ""], rows, text=(1, 4)),
        _image(plots.drift(drift["rows"]), "each drift distance against its bound"),
    ])


def _training(training: Dict[str, Any]) -> str:
    history = training["history"]
    names = [name for name in ("loss", "val_loss", "val_ndcg@10", "val_rmse")
             if name in history]
    rows = [[str(epoch)] + [fact(f"training.{name}.{epoch}", history[name][epoch - 1], ".4f")
                            for name in names]
            for epoch in range(1, len(history["loss"]) + 1)]
    return "".join([
        "<h2>Training</h2>",
        f"<p>{fact('training.epochs', training['epochs'])} epochs on "
        f"{fact('training.training_ratings', training['training_ratings'], ',')} training "
        f"ratings in {fact('training.seconds', training['seconds'], '.1f')} s; the weights "
        f"of epoch {fact('training.kept_epoch', training['kept_epoch'])} were kept. "
        f"{_text(training['stopped_because'])}"
        f"{' ' + _text(training['devices'].capitalize()) + '.' if training['devices'] else ''}"
        "</p>",
        _image(plots.training(history, training["kept_epoch"]),
               "loss and validation loss per epoch"),
        "<details><summary>Every epoch</summary>",
        _table(["epoch", *names], rows), "</details>",
    ])


def _gate(gate: Dict[str, Any]) -> str:
    k = gate["top_k"]
    bounds = gate["bounds"]
    blessed = gate["blessed_model"]
    rows = [
        ["this model", fact("gate.rmse", gate["rmse"], ".4f"),
         fact("gate.top_k_accuracy", gate["top_k_accuracy"], ".4f")],
        ["global mean rating / most popular movies",
         fact("gate.baseline_rmse", gate["baseline_rmse"], ".4f"),
         fact("gate.baseline_top_k_accuracy", gate["baseline_top_k_accuracy"], ".4f")],
    ]
    if blessed:
        rows.append(["latest blessed model", fact("gate.blessed_rmse", blessed["rmse"], ".4f"),
                     fact("gate.blessed_top_k_accuracy", blessed["top_k_accuracy"], ".4f")])
    against = (f"no worse than the latest blessed model (RMSE up by at most "
               f"{bounds['max_rmse_increase']:g}, top-{k} down by at most "
               f"{bounds['max_top_k_accuracy_decrease']:g})" if blessed else
               "no blessed model to compare with yet")
    slice_rows = [[_text(row["slice"]), fact(f"slice.{row['slice']}.examples",
                                             row["examples"], ","),
                   fact(f"slice.{row['slice']}.rmse", row["rmse"], ".4f"),
                   f"{row['rmse_over_baseline']:.2f}",
                   fact(f"slice.{row['slice']}.top_k_accuracy", row["top_k_accuracy"], ".4f"),
                   f"{row['top_k_over_baseline']:.2f}",
                   fact(f"slice.{row['slice']}.coverage", row["coverage"], ".1%"),
                   f"{row['baseline_coverage']:.1%}"] for row in gate["slices"]]
    return "".join([
        "<h2>Gate</h2>",
        f"<p>On {fact('gate.examples', gate['examples'], ',')} examples of the gate split: "
        f"RMSE {fact('gate.rmse_over_baseline', gate['rmse_over_baseline'], '.2f')} x the "
        f"global mean rating's (at most {bounds['max_rmse_over_baseline']:g} x), top-{k} "
        f"accuracy {fact('gate.top_k_over_baseline', gate['top_k_over_baseline'], '.2f')} x "
        f"the most popular movies' (at least {bounds['min_top_k_over_baseline']:g} x), and "
        f"{against}: <strong>{'blessed' if gate['passed'] else 'NOT blessed'}</strong>.</p>",
        _table(["model", "RMSE (stars)", f"top-{k} accuracy"], rows),
        "<h3>Slices</h3><p>Reported, not gated: the gate decides on the whole split. "
        "Coverage is the share of the catalogue in at least one example's top "
        f"{k}.</p>",
        _table(["slice", "ratings", "RMSE", "x mean", f"top-{k}", "x popular", "coverage",
                "popular's coverage"], slice_rows),
        _image(plots.slices(gate["slices"], k), "the model against the baselines by slice"),
    ])


def _recommendations(users: List[Dict[str, Any]]) -> str:
    if not users:
        return ""
    parts = ["<h2>Recommendations</h2>",
             "<p>From this run's model, through TF Serving's session loader (the "
             "<code>recommend</code> signature), for the user of each activity bucket with the "
             "most ratings in <code>eval_sample</code>; a tick marks a movie the user rated "
             "there.</p>"]
    for user in users:
        rows = [[str(rank + 1), _text(movie["title"]),
                 fact(f"recommend.{user['user']}.{rank + 1}", movie["stars"], ".2f"),
                 "&#10003;" if movie["rated_in_eval"] else ""]
                for rank, movie in enumerate(user["movies"])]
        parts += [f"<h3>User {_text(user['user'])} ({_text(user['activity'])})</h3>",
                  _table(["", "title", "predicted stars", "rated in eval"], rows, text=(1,))]
    return "".join(parts)


def _times(times: Optional[List[Dict[str, Any]]]) -> str:
    if times is None:
        return ("<h2>Component times</h2><p>Not recorded here: on Kubeflow, the run's graph "
                "shows each step's time.</p>")
    rows = [[_text(row["component"]), _text(row["state"]),
             fact(f"time.{row['component']}", row["seconds"], ".1f")] for row in times]
    return "".join([
        "<h2>Component times</h2>",
        "<p>As ML Metadata records them (this report's own step is still running).</p>",
        _table(["component", "", "seconds"], rows, text=(1,)),
        _image(plots.times(times), "each component's seconds"),
    ])


SECTIONS: List[Callable[[Dict[str, Any]], str]] = [
    lambda f: _data(f["data"]), lambda f: _drift(f["drift"]),
    lambda f: _training(f["training"]), lambda f: _gate(f["gate"]),
    lambda f: _recommendations(f["recommendations"]), lambda f: _times(f["times"]),
]


def render(facts: Dict[str, Any]) -> str:
    """The whole page of a run's `facts` (components/run_report/facts.py)."""
    title = f"{facts['pipeline']}: run report"
    return "".join([
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        f"<title>{_text(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{_text(title)}</h1>",
        f'<p class="note">Data: {_text(facts["data_source"])}. Written '
        f"{_text(facts['written'])}.</p>",
        _verdict(facts["gate"], facts["outcome"]), _servable(facts["outcome"]),
        *(section(facts) for section in SECTIONS),
        "</body></html>",
    ])
