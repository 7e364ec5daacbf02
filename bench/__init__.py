"""Research and benchmarks: the experiments and their peers, the pipeline, serving and scale
benchmarks, the gate's spread, and the stand-in TF Serving. Nothing in the product imports
from here."""
