"""Result files: written whole (a reader sees the old file or the new one, never half of
one), each with the same header of what was measured where."""

from __future__ import annotations

import os
import platform
import shutil
import time
from typing import Callable, Dict


def publish(path: str, write: Callable[[str], None]) -> None:
    """Calls `write(temporary_path)`, then moves the finished file onto `path` atomically."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    partial = os.path.join(folder, f".{os.path.basename(path)}.partial")
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        if os.path.lexists(partial):
            os.remove(partial)


def publish_text(path: str, text: str) -> None:
    """Writes `text` to `path` in UTF-8, whole (`publish`)."""
    def write(target: str) -> None:
        with open(target, "w", encoding="utf-8") as out:
            out.write(text)

    publish(path, write)


def link(target: str, path: str) -> str:
    """Makes `path` a second name of the file `target` (a hard link: a browser takes a page's
    type from its name, and `target`'s may have none), replacing any file there at once; a
    copy where the file system cannot link the two. Returns `path`."""
    def write(partial: str) -> None:
        try:
            os.link(target, partial)
        except OSError:  # another file system, or one without hard links
            shutil.copyfile(target, partial)

    publish(path, write)
    return path


def report_header(data_source: str) -> Dict[str, str]:
    """Data (a path shortened to its folder name), machine and date, for every report."""
    data = data_source
    if os.path.exists(data_source):
        data = os.path.basename(os.path.normpath(data_source))
    return {"data": data, "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "date": time.strftime("%Y-%m-%d")}
