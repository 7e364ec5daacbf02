"""Serving benchmark: the pushed model through TF Serving's session path, and the client.

Measures, on one pushed version: the latency of `retrieve` and `recommend` for one user and
of `lookup_movie` for one id (a single hash-table lookup: the floor of a session run, the
baseline measured in the same run); `rate` throughput for batches of 1,000 and 10,000 pairs;
and the client's REST and gRPC round trip for `retrieve` against the stand-in server. Each
measurement is taken in `rounds` rounds; the report gives the median round and the spread.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from typing import Any, Callable, Dict, List, Sequence

import numpy as np

from bench.stand_in_server import StandInServer
from pipeline import files
from serving import client, contract
from serving.session_model import SessionModel

TARGET_P50_MS = 2.0
TARGET_PAIRS_PER_SECOND = 200_000


def latencies_ms(call: Callable[[int], object], count: int) -> List[float]:
    """The wall time in milliseconds of each of `count` calls, `call(0)` to `call(count - 1)`."""
    times = []
    for i in range(count):
        started = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - started) * 1000.0)
    return times


def latency_summary(rounds: List[List[float]]) -> Dict[str, Any]:
    """p50 and p99 of each round; the median round's values and the range over rounds."""
    p50s = [float(np.percentile(r, 50)) for r in rounds]
    p99s = [float(np.percentile(r, 99)) for r in rounds]
    return {"p50_ms": statistics.median(p50s), "p99_ms": statistics.median(p99s),
            "p50_range_ms": [min(p50s), max(p50s)], "p99_range_ms": [min(p99s), max(p99s)],
            "requests": sum(len(r) for r in rounds)}


def run(version_dir: str, user_ids: Sequence[str], movie_ids: Sequence[str], report_dir: str,
        data_source: str, rounds: int = 3, requests: int = 1000,
        log: Callable[[str], None] = print) -> Dict:
    """Benchmarks the SavedModel at `version_dir`; writes serving.json and serving.md."""
    rng = np.random.default_rng(0)
    users = [str(u) for u in rng.choice(user_ids, size=requests)]
    report: Dict = {**files.report_header(data_source), "model": version_dir, "rounds": rounds,
                    "session": {}, "rate": {}, "client": {}}
    with SessionModel(version_dir) as model:
        for _ in range(20):  # first runs build the session's kernels; TF Serving warms up too
            model.run(contract.RETRIEVE, {contract.USER_ID: users[:1]})
            model.run(contract.RECOMMEND, {contract.USER_ID: users[:1]})
            model.run(contract.LOOKUP_MOVIE, {contract.MOVIE_QUERY: [movie_ids[0]]})
        cases = {
            "lookup_movie (floor)": lambda i: model.run(
                contract.LOOKUP_MOVIE, {contract.MOVIE_QUERY: [movie_ids[i % len(movie_ids)]]}),
            contract.RETRIEVE: lambda i: model.run(contract.RETRIEVE,
                                                   {contract.USER_ID: [users[i]]}),
            contract.RECOMMEND: lambda i: model.run(contract.RECOMMEND,
                                                    {contract.USER_ID: [users[i]]}),
        }
        for name, call in cases.items():
            report["session"][name] = latency_summary([latencies_ms(call, requests)
                                                for _ in range(rounds)])
            log(f"session {name}: p50 {report['session'][name]['p50_ms']:.3f} ms")
        for batch in (1000, 10_000):
            pairs = {contract.USER_ID: [str(u) for u in rng.choice(user_ids, size=batch)],
                     contract.MOVIE_ID: [str(m) for m in rng.choice(movie_ids, size=batch)]}
            model.run(contract.RATE, pairs)
            seconds = [min(latencies_ms(lambda _: model.run(contract.RATE, pairs), 10)) / 1000.0
                       for _ in range(rounds)]
            rates = [batch / s for s in seconds]
            report["rate"][str(batch)] = {"pairs_per_second": statistics.median(rates),
                                          "range": [min(rates), max(rates)]}
            log(f"rate, batches of {batch}: {statistics.median(rates):,.0f} pairs/s")
    base_path = os.path.dirname(os.path.abspath(version_dir))
    with StandInServer(base_path, num_versions=1) as server:
        transports: Dict[str, Any] = {"REST": client.RestTransport(server.rest_url),
                                      "gRPC": client.GrpcTransport(server.grpc_target)}
        for name, transport in transports.items():
            def call(i, transport=transport):
                transport.predict(contract.RETRIEVE,
                                  {contract.USER_ID: [users[i % len(users)]]})
            latencies_ms(call, 50)
            report["client"][name] = latency_summary([latencies_ms(call, requests // 2)
                                               for _ in range(rounds)])
            transport.close()
            log(f"client {name}: p50 {report['client'][name]['p50_ms']:.3f} ms")
    files.publish_text(os.path.join(report_dir, "serving.json"), json.dumps(report, indent=2))
    files.publish_text(os.path.join(report_dir, "serving.md"), markdown(report))
    return report


def _range(values: Sequence[float], fmt: str) -> str:
    return f"{format(values[0], fmt)}-{format(values[1], fmt)}"


def markdown(report: Dict) -> str:
    """The text of serving.md: the session path's latencies beside the lookup floor, `rate`'s
    throughput, the client's round trips, and whether the targets are met."""
    session, floor = report["session"], report["session"]["lookup_movie (floor)"]["p50_ms"]
    lines = [
        f"# Serving latency and throughput: {report['data']}",
        "",
        f"{report['machine']}, {report['date']}; model `{report['model']}`.",
        f"{report['rounds']} rounds per row; the median round is shown, the range over "
        "rounds beside it. One request at a time, after warm-up.",
        "",
        "## Through TF Serving's session path (`serving/session_model.py`)",
        "",
        "| signature, one user | p50 (ms) | p50 range | p99 (ms) | p99 range | p50 / floor |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in session.items():
        lines.append(f"| {name} | {row['p50_ms']:.3f} | {_range(row['p50_range_ms'], '.3f')} | "
                     f"{row['p99_ms']:.3f} | {_range(row['p99_range_ms'], '.3f')} | "
                     f"{row['p50_ms'] / floor:.2f} |")
    lines += ["", "| `rate`, pairs per batch | pairs per second | range |", "|---|---|---|"]
    for batch, row in report["rate"].items():
        lines.append(f"| {int(batch):,} | {row['pairs_per_second']:,.0f} | "
                     f"{_range(row['range'], ',.0f')} |")
    lines += ["", "## The client's round trip to the stand-in server (`retrieve`, one user)", "",
              "| protocol | p50 (ms) | p50 range | p99 (ms) | p50 / session path |",
              "|---|---|---|---|---|"]
    for name, row in report["client"].items():
        lines.append(f"| {name} | {row['p50_ms']:.3f} | {_range(row['p50_range_ms'], '.3f')} | "
                     f"{row['p99_ms']:.3f} | "
                     f"{row['p50_ms'] / session['retrieve']['p50_ms']:.1f} |")
    worst_p50 = max(session[contract.RETRIEVE]["p50_ms"], session[contract.RECOMMEND]["p50_ms"])
    slowest_rate = min(row["pairs_per_second"] for row in report["rate"].values())
    lines += ["", "## Targets", "",
              f"- p50 of `retrieve` and `recommend` for one user at most {TARGET_P50_MS} ms: "
              f"{worst_p50:.3f} ms, {'met' if worst_p50 <= TARGET_P50_MS else 'NOT met'}.",
              f"- `rate` at least {TARGET_PAIRS_PER_SECOND:,} pairs per second: "
              f"{slowest_rate:,.0f}, "
              f"{'met' if slowest_rate >= TARGET_PAIRS_PER_SECOND else 'NOT met'}.", ""]
    return "\n".join(lines)
