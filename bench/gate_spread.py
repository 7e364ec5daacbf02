"""How far the gate's ratios move between seeded samples of the eval split.

The Evaluator gates on one seeded sample of eval (DataConfig.gate_examples). The scale
benchmark draws further samples of the same size and computes the same ratios from the model's
`serving_default` outputs (the ones the TFMA metrics of components/evaluator/metrics.py read): if
every sample gives the gate's decision, the sample is large enough.
"""

from __future__ import annotations

import glob
import os
from typing import Dict, List

import numpy as np
import tensorflow as tf

from common import features
from components.evaluator.config import GateConfig
from components.evaluator.metrics import RMSE_OVER_BASELINE, TOP_K_OVER_BASELINE
from serving import contract

BATCH = 8192


def _records(examples_uri: str, split: str) -> np.ndarray:
    files = sorted(glob.glob(os.path.join(examples_uri, f"Split-{split}", "*.gz")))
    batches = tf.data.TFRecordDataset(files, compression_type="GZIP").batch(65_536)
    return np.concatenate([batch.numpy() for batch in batches])


def ratios(serving_default, records: np.ndarray) -> Dict[str, float]:
    """RMSE over the global mean's and top-k accuracy over the most-popular ranking's."""
    squared = {contract.RATING: 0.0, contract.BASELINE_RATING: 0.0}
    hits = {contract.TOP_K_HIT: 0.0, contract.BASELINE_TOP_K_HIT: 0.0}
    spec = {features.RATING: tf.io.FixedLenFeature([1], tf.float32)}
    for start in range(0, len(records), BATCH):
        batch = tf.constant(records[start:start + BATCH])
        outputs = serving_default(**{contract.EXAMPLES: batch})
        stars = tf.io.parse_example(batch, spec)[features.RATING].numpy().reshape(-1)
        for name in squared:
            squared[name] += float(np.sum((outputs[name].numpy().reshape(-1) - stars) ** 2))
        for name in hits:
            hits[name] += float(np.sum(outputs[name].numpy()))
    rmse_ratio = np.sqrt(squared[contract.RATING] / squared[contract.BASELINE_RATING])
    top_k_ratio = hits[contract.TOP_K_HIT] / max(hits[contract.BASELINE_TOP_K_HIT], 1.0)
    return {RMSE_OVER_BASELINE: float(rmse_ratio), TOP_K_OVER_BASELINE: top_k_ratio}


def spread(model_dir: str, examples_uri: str, sample_size: int, samples: int = 5,
           gate: GateConfig = GateConfig(), seed: int = 0) -> Dict:
    """The ratios on `samples` seeded samples of `sample_size` eval ratings: per ratio its
    mean, std, min and max, and how many samples the default relative gate would bless.
    No samples when eval is no larger than `sample_size` (the gate read all of it)."""
    records = _records(examples_uri, "eval")
    if len(records) <= sample_size:  # the gate read all of eval: nothing was sampled
        return {"sample_size": len(records), "eval_size": len(records), "samples": 0}
    size = sample_size
    serving_default = tf.saved_model.load(model_dir).signatures[contract.SERVING_DEFAULT]
    found: List[Dict[str, float]] = []
    for index in range(samples):
        rows = np.random.default_rng([seed, index]).choice(len(records), size, replace=False)
        found.append(ratios(serving_default, records[np.sort(rows)]))
    summary: Dict = {"sample_size": size, "eval_size": len(records), "samples": samples}
    for name in (RMSE_OVER_BASELINE, TOP_K_OVER_BASELINE):
        values = np.array([result[name] for result in found])
        summary[name] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)),
                         "min": float(values.min()), "max": float(values.max())}
    summary["blessed"] = sum(
        result[RMSE_OVER_BASELINE] <= gate.max_rmse_over_baseline
        and result[TOP_K_OVER_BASELINE] >= gate.min_top_k_over_baseline for result in found)
    return summary
