"""Writing result files whole: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
from typing import Callable


def publish(path: str, write: Callable[[str], None]) -> None:
    """Calls `write(temporary_path)`, then moves the finished file onto `path` atomically."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    partial = os.path.join(folder, f".{os.path.basename(path)}.partial")
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def publish_text(path: str, text: str) -> None:
    def write(target: str) -> None:
        with open(target, "w", encoding="utf-8") as out:
            out.write(text)

    publish(path, write)
