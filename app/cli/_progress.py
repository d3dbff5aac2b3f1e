"""Progress of long commands: a bar on a terminal, plain lines otherwise (logs, pipes, CI)."""

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from app.params import Progress

__all__ = ["progress_to"]


@contextmanager
def progress_to(label: str, stream: TextIO | None = None, delay: float = 2.0) -> Iterator[Progress]:
    """A `progress(done, total)` callback for the work inside the block, drawn on `stream`
    (stderr: stdout keeps the results). On a terminal a tqdm bar that is cleared at the end;
    elsewhere one line per tenth done ("label: 30 %"), so a log reads like a log. Work that
    ends within `delay` seconds, or in one step (a gradient map), shows nothing: the result is
    the news."""
    stream = stream or sys.stderr
    if stream.isatty():
        from tqdm import tqdm

        bar = tqdm(
            total=1, desc=label, file=stream, leave=False, dynamic_ncols=True, delay=delay / 4
        )

        def draw(done: int, total: int) -> None:
            if total != bar.total:
                bar.reset(total=max(1, total))
            bar.update(done - bar.n)

        try:
            yield draw
        finally:
            bar.close()
        return
    last = [-1]
    started = time.monotonic()

    def write(done: int, total: int) -> None:
        tenth = 10 * done // max(1, total)
        # A first line that says "100 %" says nothing the result does not (a one-step method).
        news = last[0] >= 0 or done < total
        if tenth != last[0] and news and time.monotonic() - started >= delay:
            last[0] = tenth
            print(f"{label}: {10 * tenth} %", file=stream, flush=True)

    yield write
