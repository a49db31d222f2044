"""Memory and the garbage collector around bulk work on Python objects."""
from __future__ import annotations

import functools
import gc
from contextlib import contextmanager


@contextmanager
def gc_paused():
    """The cyclic garbage collector off for the block, restored after: building 500,000 rows of Python lists
    (a CSV's records, a frame's columns) makes it run thousands of times over every object already made
    (read and validate 10.1 -> 8.1 s for the 500,000-row file); those objects hold no reference cycles.
    Nests: an outer pause stays in force."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def without_gc(fn):
    """`fn` run under gc_paused."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with gc_paused():
            return fn(*args, **kwargs)
    return wrapper


def release_memory() -> None:
    """Freed objects' memory back to the system: a collection, then glibc's malloc_trim (CPython keeps
    freed small-object arenas and glibc its free heap pages otherwise; nothing where there is no glibc)."""
    import ctypes
    import ctypes.util

    gc.collect()
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
