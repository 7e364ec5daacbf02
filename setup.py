"""Packaging for the MovieLens TFX recommender.

The direct requirements are listed here; `requirements.lock` pins the whole resolved set, and
`make install` installs with it as constraints so that pip never backtracks.
"""

from setuptools import find_packages, setup

setup(
    name="movielens-tfx-recommender",
    version="0.1.0",
    description="A TFX pipeline that trains, gates and ships a multi-task movie recommender",
    python_requires=">=3.10,<3.11",
    packages=find_packages(include=["common*", "pipeline*", "components*", "trainer*",
                                    "serving*", "bench*"]),
    install_requires=[
        "tfx==1.16.0",
        # 2.61 is of the era TFX 1.16 was tested with; it still brings `dill`, which
        # tensorflow-transform imports, and its DirectRunner does not fetch Prism.
        "apache-beam[gcp]==2.61.0",
        "tensorflow-datasets",
        "kfp-pipeline-spec",
        "matplotlib",
        # the serving client (serving/client.py): TF Serving's REST and gRPC APIs
        "requests",
        "grpcio",
        "tensorflow-serving-api",
        # the scale benchmark samples the pipeline's memory
        "psutil",
    ],
    extras_require={
        # tests/test_deploy.py loads the Kubernetes manifests into the client's models
        # pytest-timeout: no test waits for ever (pytest.ini's limit); ruff and mypy: `make lint`
        # selenium: tests/browser.py drives the Debian chromium and chromium-driver packages
        # (.ci/run installs them) to read the run's report page as a person's browser would
        "dev": ["pytest", "pytest-timeout", "kubernetes", "pyyaml", "hypothesis", "ruff", "mypy",
                "selenium"],
        # the experiments' peers (bench/peers.py). cornac 2.2 is the last release for
        # numpy < 2, which TensorFlow 2.16 needs (cornac 2.3+ requires numpy > 2).
        # threadpoolctl: implicit's ALS asks for one BLAS thread beside its own.
        "bench": ["cornac==2.2.2", "implicit==0.7.3", "scikit-surprise==1.1.5",
                  "threadpoolctl"],
    },
    entry_points={
        "console_scripts": ["movielens-tfx=pipeline.cli:main"],
        # pipeline.cli.COMMANDS: the research and benchmark subcommands (bench/commands.py)
        "movielens_tfx.commands": ["bench=bench.commands:add_commands"],
    },
)
