"""One run at a time on a pipeline root: a lock file naming its holder.

`fcntl.flock` on `<root>/.run.lock`: the kernel releases it when the holder exits or dies
(SIGKILL included), so a stale lock never blocks. The file records the holder (pid, host,
start, command) for the message a second run gets; a run that ends cleanly empties it, so a
record found by a run that got the lock is that of a run that died.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import socket
import sys
from typing import Iterator, Optional

from absl import logging

LOCK_FILE = ".run.lock"


class RootInUse(RuntimeError):
    """Another run holds the pipeline root."""


def _describe(holder: dict) -> str:
    return (f"run pid {holder.get('pid')} on {holder.get('host')} (started "
            f"{holder.get('started')}: {holder.get('command')})")


def _read(lock) -> Optional[dict]:
    lock.seek(0)
    text = lock.read()
    try:
        return json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        return None


@contextlib.contextmanager
def held(pipeline_root: str) -> Iterator[None]:
    """Holds the root's lock for the block; raises RootInUse at once if another run holds
    it."""
    os.makedirs(pipeline_root, exist_ok=True)
    path = os.path.join(pipeline_root, LOCK_FILE)
    with open(path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(lock) or {}
            raise RootInUse(f"pipeline root {pipeline_root} is in use by {_describe(holder)}; "
                            f"wait for it to finish, stop it (kill {holder.get('pid')}), or "
                            "give another --pipeline-root") from None
        previous = _read(lock)
        if previous:
            logging.warning("Taking over %s from %s, which ended without finishing",
                            pipeline_root, _describe(previous))
        lock.seek(0)
        lock.truncate()
        json.dump({"pid": os.getpid(), "host": socket.gethostname(),
                   "started": datetime.datetime.now().isoformat(timespec="seconds"),
                   "command": " ".join(sys.argv)}, lock)
        lock.flush()
        try:
            yield
        finally:
            lock.seek(0)
            lock.truncate()
            lock.flush()
            fcntl.flock(lock, fcntl.LOCK_UN)
