"""What a forked child that may be SIGKILLed must not share with its parent.

tqdm guards every progress bar with an inter-process lock (a multiprocessing semaphore) that a forked child
inherits. A child killed while it holds that lock (``save_pretrained`` shows a "Writing model shards" bar inside
every checkpoint write) leaves it held forever, and the parent's next progress bar (loading a model to resume)
waits on it for good: tests/test_checkpoint_crash.py hung exactly there. The crash tests and the fault benchmark
call ``isolate_child`` first thing in the child.
"""

from __future__ import annotations

import threading


def isolate_child() -> None:
    """Give this (forked) process its own tqdm write lock, on tqdm and every subclass a library has defined (a
    subclass that already drew a bar holds its own reference to the shared lock)."""
    import tqdm.auto  # noqa: F401  (defines the subclass most libraries use)
    import tqdm.std

    lock, todo = threading.RLock(), [tqdm.std.tqdm]
    while todo:
        cls = todo.pop()
        cls.set_lock(lock)
        todo.extend(cls.__subclasses__())
