"""The serving contract: what a pushed model answers, by name. The export writes it, the
warm-up, the servable check, the gate's metrics, the client and the benchmarks read it.
Plain constants: the client imports this module without TensorFlow.

How many ids one request may carry (MAX_BATCH), per signature, is a documented bound on what
a request costs the server. `retrieve` and `recommend` score the whole catalogue for each user
(1,024 users of ml-25m's 59,047 movies are 242 MB of scores); `rate` and `lookup_movie` cost a
little per id, and admit as many as TF Serving's batching layer does (max_batch_size in
serving/deploy/batching.config). The exported signatures refuse a larger batch
(INVALID_ARGUMENT, naming the limit); `serving.client.Recommender` splits a longer list into
requests of at most this many. With --enable_batching, TF Serving's batching layer decides
first: it admits up to max_batch_size (16,384) rows for every signature and runs them in
batches of at most max_execution_batch_size (1,024) rows, never more than a signature admits,
so a batch it splits or merges is never refused (tests/test_deploy.py checks the two files
agree). `serving_default` is the Evaluator's: TFMA batches its examples itself, so it has no
limit.
"""

from common import features

DEFAULT_MODEL_NAME = "movielens"  # the model's name on the server, and its folder

# Signatures
RETRIEVE = "retrieve"  # user_id -> the top-k movies by retrieval score
RATE = "rate"  # (user_id, movie_id) pairs -> predicted stars
RECOMMEND = "recommend"  # user_id -> the top-k movies, ranked by predicted stars
LOOKUP_MOVIE = "lookup_movie"  # an id or title -> the catalogue's id and title
SERVING_DEFAULT = "serving_default"  # the Evaluator's: serialized tf.Examples

# Inputs: raw MovieLens ids, named as the raw features are
USER_ID = features.USER_ID
MOVIE_ID = features.MOVIE_ID  # also lookup_movie's output, with TITLE
MOVIE_QUERY = "movie"  # lookup_movie's
EXAMPLES = "examples"  # serving_default's

# Outputs
MOVIE_IDS = "movie_ids"
TITLES = "titles"
SCORES = "scores"
PERSONALIZED = "personalized"  # false: an unknown user, given the most popular movies
RATING = "rating"  # stars, rate's and serving_default's
RATINGS = "ratings"  # stars, recommend's
TITLE = "title"  # lookup_movie's
TOP_K_HIT = "top_k_hit"  # serving_default's: 1 where the example's movie is in the top k
BASELINE_RATING = "baseline_rating"  # serving_default's: the global mean, in stars
BASELINE_TOP_K_HIT = "baseline_top_k_hit"  # serving_default's: the most popular top k
TOP_K_MOVIES = "top_k_movies"  # serving_default's: the catalogue rows of the user's top k
BASELINE_TOP_K_MOVIES = "baseline_top_k_movies"  # serving_default's: the most popular's
CATALOGUE_SIZE = "catalogue_size"  # serving_default's: the movies the model can rank

MAX_BATCH = {RETRIEVE: 1_024, RECOMMEND: 1_024, RATE: 16_384, LOOKUP_MOVIE: 16_384}

# Files of a version directory
ASSETS_EXTRA = "assets.extra"  # TF Serving reads a version's extra files here
WARMUP_FILE = "tf_serving_warmup_requests"  # in ASSETS_EXTRA
METADATA_FILE = "recommender.json"  # in ASSETS_EXTRA: k, vocabulary sizes, defined answers
# In ASSETS_EXTRA of a pushed version: TFDV's statistics of the data that trained it, what
# the next runs measure drift against (TF Serving does not read it).
TRAINING_STATISTICS_FILE = "training_statistics.pb"
