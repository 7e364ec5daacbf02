"""What the Examples of MovieLensExampleGen hold, named once for every component that reads
them: its splits and its properties."""

TRAIN = "train"
EVAL = "eval"
# A seeded sample of eval, at most DataConfig.gate_examples ratings (all of eval when it is
# smaller): what the Evaluator's gate reads, so its cost stops growing with the data.
GATE = "gate"
# Seeded samples of train and eval, at most DataConfig.statistics_examples ratings each: what
# StatisticsGen describes, in memory, so that its cost (about 20 us a rating) and memory stay
# bounded at any size (docs/data.md).
TRAIN_SAMPLE = "train_sample"
EVAL_SAMPLE = "eval_sample"
SPLITS = (TRAIN, EVAL, GATE, TRAIN_SAMPLE, EVAL_SAMPLE)
# Properties: the fraction of eval's ratings whose user (movie) has no rating in train.
# TFDV's statistics describe each split alone; the DataGate reads these.
UNSEEN_USERS = "eval_unseen_users"
UNSEEN_MOVIES = "eval_unseen_movies"
