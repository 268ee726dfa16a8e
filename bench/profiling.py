"""Where a benchmark server spends its CPU: py-spy samples of all its threads, summarised.

`python -m bench --scenario overhead --profile DIR` attaches `py-spy record` to the Concierge and bare
servers for the whole scenario and writes `DIR/<server>.folded` (collapsed stacks, for flame graph
tools) and `DIR/<server>.summary.txt`: samples per thread, Concierge's own functions by inclusive
samples, and the functions where samples land (self). py-spy samples threads that are running, so
an idle event loop costs little, but a thread woken for a trivial job shows up as it should.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from collections import Counter
from pathlib import Path

SAMPLE_RATE = 250
STOP_TIMEOUT_SECONDS = 30
OWN_CODE = ("(server/", "(bench/toolkits/")
# Leaf frames of a thread that waits (event loop in epoll, a worker on its queue, a stack py-spy could not
# read): not work, so shares are of the other, busy samples.
IDLE = ("EpollSelector.select (", "Condition.wait (", "(no frame)")
_LINE = re.compile(r":\d+\)")
_THREAD_ID = re.compile(r"\s*\(\d+\)")


def attach(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy on a running process; it writes `out` when that process exits (or on SIGINT)."""
    if shutil.which("py-spy") is None:
        raise RuntimeError("--profile needs py-spy: pip install py-spy")
    return subprocess.Popen(["py-spy", "record", "--pid", str(pid), "--rate", str(SAMPLE_RATE), "--format", "raw",
                             "--output", str(out), "--threads"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)


def detach(spy: subprocess.Popen[bytes]) -> None:
    try:
        spy.wait(STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        spy.send_signal(signal.SIGINT)
        spy.wait(STOP_TIMEOUT_SECONDS)


def summarize(folded: Path, top: int = 30) -> str:
    """Busy samples per thread; our own functions by inclusive share; leaf functions by self share."""
    threads: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    busy = idle = 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        thread, *frames = stack.split(";")
        names = [_LINE.sub(")", f) for f in frames] or ["(no frame)"]
        n = int(count)
        if names[-1].startswith(IDLE):
            idle += n
            continue
        busy += n
        threads[_THREAD_ID.sub("", thread)] += n
        for name in set(names):
            if any(part in name for part in OWN_CODE):
                inclusive[name] += n
        leaf[names[-1]] += n

    def block(title: str, counts: Counter[str]) -> list[str]:
        return [title, *(f"{n:7d} {100 * n / busy:5.1f}%  {name}" for name, n in counts.most_common(top)), ""]

    return "\n".join([f"{busy} busy samples at {SAMPLE_RATE} Hz ({idle} idle left out); shares are of busy samples",
                      "", *block("threads:", threads), *block("own code, inclusive:", inclusive),
                      *block("where samples land (self):", leaf)])
