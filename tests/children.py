"""Child processes for tests, with a time limit on every wait.

A test suite started as a background job (`make test &` in a script) inherits SIGINT as
ignored, and so would every child it starts: `start` gives each child the default
disposition, so Ctrl-C sent by a test reaches it as it would from a terminal. Output is
read by a thread, so waiting for a line can end at a deadline instead of blocking."""

import queue
import signal
import subprocess
import threading
import time
from typing import List, Optional


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Child:
    """A running child; its chosen stream ("stdout" or "stderr") read line by line."""

    def __init__(self, args: List[str], stream: str = "stderr", **popen) -> None:
        pipes = {stream: subprocess.PIPE}
        other = "stdout" if stream == "stderr" else "stderr"
        pipes.setdefault(other, popen.pop(other, subprocess.DEVNULL))
        self.process = subprocess.Popen(args, text=True, preexec_fn=_default_sigint,
                                        **pipes, **popen)
        self.pid = self.process.pid
        self._lines: "queue.Queue[Optional[str]]" = queue.Queue()
        self.lines: List[str] = []
        reader = getattr(self.process, stream)
        threading.Thread(target=self._read, args=(reader,), daemon=True).start()

    def _read(self, reader) -> None:
        for line in reader:
            self._lines.put(line)
        self._lines.put(None)

    def wait_for(self, text: str, timeout: float) -> str:
        """The first line (from now on) containing `text`; fails at the deadline or at the
        end of the output."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self._lines.get(timeout=max(left, 0.01))
            except queue.Empty:
                self.kill()
                raise AssertionError(f"no line with {text!r} within {timeout:g} s; "
                                     f"so far: {''.join(self.lines)[-2000:]}") from None
            if line is None:
                self._lines.put(None)
                raise AssertionError(f"the output ended without {text!r}: "
                                     f"{''.join(self.lines)[-2000:]}")
            self.lines.append(line)
            if text in line:
                return line

    def finish(self, timeout: float) -> "tuple[int, str]":
        """(exit code, the rest of the output); the child is killed at the deadline."""
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the child did not end within {timeout:g} s: "
                                 f"{''.join(self.lines)[-2000:]}") from None
        rest = []
        while True:
            try:
                line = self._lines.get(timeout=10)
            except queue.Empty:
                break
            if line is None:
                self._lines.put(None)
                break
            rest.append(line)
        self.lines.extend(rest)
        return code, "".join(rest)

    def poll(self) -> Optional[int]:
        return self.process.poll()

    def send_signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def kill(self) -> None:
        """Kills it if it runs, and reaps it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
