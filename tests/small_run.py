"""`movielens-tfx run` arguments for a small, quick pipeline run that the gate blesses (the
lenient ratios let a 2-epoch model through), shared by the tests that run real processes."""

ARGS = ["--synthetic-users", "60", "--synthetic-movies", "200", "--synthetic-ratings", "3000",
        "--gate", "max_rmse_over_baseline=3", "--gate", "min_top_k_over_baseline=0",
        "--model", "batch_size=256"]
