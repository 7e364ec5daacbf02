"""How many ids one request may carry, per signature: a documented bound on what a request
costs the server. `retrieve` and `recommend` score the whole catalogue for each user (1,024
users of ml-25m's 59,047 movies are 242 MB of scores); `rate` and `lookup_movie` cost a
little per id, and admit as many as TF Serving's batching layer does (max_batch_size in
serving/deploy/batching.config).

The exported signatures refuse a larger batch (INVALID_ARGUMENT, naming the limit);
`serving.client.Recommender` splits a longer list into requests of at most this many. With
--enable_batching, TF Serving's batching layer decides first: it admits up to max_batch_size
(16,384) rows for every signature and runs them in batches of at most
max_execution_batch_size (1,024) rows, never more than a signature admits, so a batch it
splits or merges is never refused (tests/test_deploy.py checks the two files agree). `serving_default` is the
Evaluator's: TFMA batches its examples itself, so it has no limit.
Plain constants: the client imports this module without TensorFlow.
"""

MAX_BATCH = {"retrieve": 1_024, "recommend": 1_024, "rate": 16_384, "lookup_movie": 16_384}
