"""Progress of a long command on stderr: one line per finished stage, a bar for the clustering batches.

Off unless DP_PROGRESS=1 (dedupe-csv without --verbose sets it for its stages' process), so the DAG's
tasks and the tests print nothing new. On a terminal, rich draws a spinner / bar that disappears when
the step ends and leaves one line ("✓ clustering: 4 batches, 50,000 actors (9.1 s)"); in a file or a
pipe, plain lines only, no ANSI codes.
"""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager

PROGRESS_ENV = "DP_PROGRESS"


_override: list[bool] = []


def enabled() -> bool:
    return _override[-1] if _override else os.environ.get(PROGRESS_ENV, "") == "1"


@contextmanager
def shown(on: bool = True):
    """Progress on (or off) in this process for the block, whatever DP_PROGRESS says."""
    _override.append(bool(on))
    try:
        yield
    finally:
        _override.pop()


def _tty() -> bool:
    return sys.stderr.isatty()


def done(label: str, seconds: float) -> None:
    """The line a finished step leaves."""
    if enabled():
        mark = "✓ " if _tty() else ""
        print(f"{mark}{label} ({seconds:.1f} s)", file=sys.stderr, flush=True)


def _progress(total: int | None):
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = [SpinnerColumn(), TextColumn("{task.description}")]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn()]
    return Progress(*columns, TimeElapsedColumn(), console=Console(stderr=True), transient=True)


@contextmanager
def stage(label: str):
    """A step without a count (a spinner on a terminal); yields a dict whose "label" may be replaced
    by the caller to say what was done ("selection: 50,000 actors in 102 départements")."""
    info = {"label": label}
    start = time.perf_counter()
    if enabled() and _tty():
        with _progress(None) as progress:
            progress.add_task(label + "…", total=None)
            yield info
    else:
        yield info
    done(info["label"], time.perf_counter() - start)


class Bar:
    """A counted step: `advance(text)` after each item (a bar on a terminal, a line per item elsewhere)."""

    def __init__(self, label: str, total: int, progress=None, task=None):
        self.label, self.total, self.count = label, total, 0
        self._progress, self._task = progress, task
        self._start = time.perf_counter()

    def advance(self, text: str = "") -> None:
        self.count += 1
        if self._progress is not None:
            self._progress.update(self._task, advance=1)
        elif enabled():
            suffix = f" — {text}" if text else ""
            print(f"{self.label}: {self.count}/{self.total}{suffix} "
                  f"({time.perf_counter() - self._start:.1f} s)", file=sys.stderr, flush=True)


@contextmanager
def bar(label: str, total: int, unit: str = "batches"):
    """A Bar for `total` items; on exit one line: "✓ <label>: <total> <unit> (<s> s)"."""
    start = time.perf_counter()
    if enabled() and _tty():
        with _progress(total) as progress:
            yield Bar(label, total, progress, progress.add_task(label, total=total))
    else:
        yield Bar(label, total)
    done(f"{label}: {total} {unit if total != 1 else unit.removesuffix('es').removesuffix('s')}",
         time.perf_counter() - start)
