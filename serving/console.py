"""What `movielens-tfx recommend` and `rate` print: plain text from the client's results."""

from __future__ import annotations

from typing import List

from serving.client import UserRecommendations


def recommendations(result: UserRecommendations, source: str) -> str:
    """The table `recommend` prints for one user (rank, stars, movie id, title, score), with a
    note when the movies are not personalised."""
    lines = [f"Top {len(result.movies)} movies for user {result.user_id} ({source}):"]
    if not result.personalized:
        lines.append(f"  User {result.user_id!r} is not in the model's training data: these are "
                     "the most rated movies of training, not a personal ranking (their scores "
                     "are log training counts, not model scores).")
    width = max([len(m.title) for m in result.movies] + [5])
    lines.append(f"  {'#':>2}  {'stars':>5}  {'movie':>6}  {'title':<{width}}  score")
    for rank, movie in enumerate(result.movies, start=1):
        lines.append(f"  {rank:>2}  {movie.stars:>5.2f}  {movie.movie_id:>6}  "
                     f"{movie.title:<{width}}  {movie.score:.3f}")
    return "\n".join(lines)


def ratings(user_id: str, movies: List[tuple], stars: List[float], source: str) -> str:
    """movies: (movie_id, title) pairs, in the order of `stars`."""
    lines = [f"Predicted ratings of user {user_id} ({source}):"]
    for (movie_id, title), value in zip(movies, stars):
        lines.append(f"  {value:.2f} stars  movie {movie_id}  {title}")
    return "\n".join(lines)
