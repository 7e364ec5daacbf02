"""The sizes of the MovieLens releases that the scale benchmark reproduces with synthetic data."""

from typing import Dict, Tuple

# The releases' users, movies and ratings.
SIZES: Dict[str, Tuple[int, int, int]] = {
    "ml-100k": (943, 1_682, 100_000),
    "ml-1m": (6_040, 3_706, 1_000_209),
    "ml-10m": (69_878, 10_677, 10_000_054),
    "ml-25m": (162_541, 59_047, 25_000_095),
}
