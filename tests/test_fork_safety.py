"""A forked child SIGKILLed while it draws a progress bar must not leave the parent's next bar waiting forever
(tests/test_checkpoint_crash.py once hung there: ``fastslow.fork_safety``). The scenario runs in its own Python
process, so that a regression fails this test instead of poisoning every later progress bar of the test session."""

import os
import subprocess
import sys

import pytest

SCENARIO = """
import io, os, signal, sys, threading
from tqdm.auto import tqdm
from fastslow.fork_safety import isolate_child

isolate = sys.argv[1] == "isolate"
tqdm(range(1), file=io.StringIO()).close()  # the parent has drawn a bar before (as a model load does)
pid = os.fork()
if pid == 0:  # the child takes tqdm's write lock and is killed holding it
    if isolate:
        isolate_child()
    tqdm.get_lock().acquire()
    os.kill(os.getpid(), signal.SIGKILL)
os.waitpid(pid, 0)
done = threading.Event()
threading.Thread(target=lambda: (tqdm(range(1), file=io.StringIO()).close(), done.set()), daemon=True).start()
os._exit(0 if done.wait(5) else 1)
"""


def parent_can_draw(mode: str) -> bool:
    return subprocess.run([sys.executable, "-c", SCENARIO, mode], timeout=120).returncode == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_an_isolated_child_killed_holding_the_bar_lock_does_not_block_the_parent():
    assert parent_can_draw("isolate")
    assert not parent_can_draw("shared")  # the failure it prevents: without isolation the parent waits forever
