"""Running untrusted CodeIO programs to get reference outputs, outside the trainer's process.

The code may import anything, change global state, print, allocate without bound or hang, so each batch of
programs runs in a child Python process (in a scratch folder, so files it writes land nowhere), each program in its
own fork of that child (so no program sees another's global state, and a result does not depend on which programs
shared a child or on the machine's core count), with a per-program time limit and a memory cap; a program that dies
or hangs costs only itself. Every instance runs under
two ``PYTHONHASHSEED`` values and is kept only when both agree: an output that depends on set order or unseeded
randomness cannot be predicted, so it must not be graded. Results are cached per process.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

TIME_LIMIT_S = 5.0  # CPU seconds per program run: CPU time, not wall time, so a busy machine drops no more programs
WALL_LIMIT_S = 40.0  # wall seconds per program run: only for programs that sleep or block without using the CPU
HASH_SEEDS = ("0", "1")  # the two child runs must agree
MIN_SHARD = 128  # jobs per child process, at least, when a batch is split over the cores

# One child process: read jobs [code, generator, rng_seed] as JSON from stdin; for each, print one line: null
# (failed) or [input_json, output_json]. Every job runs in its own fork of the child, made before any program ran
# (issue 20: one program's global state, such as ``random``'s, used to leak into the next, so a result depended on
# which programs shared a child, and so on ``cpu_count``). Each fork starts from the same state: ``random`` seeded
# from the hash seed (so a program that draws from the global generator still gives different outputs under the
# two hash seeds and is dropped, as it cannot be predicted), no program's imports, the same working folder. The
# input is serialised *before* the call, which may mutate it. The protocol gets a private copy of stdout; fd 1
# itself goes to /dev/null, so a program printing (even from C) cannot corrupt it. Memory is capped in the fork so
# that a runaway program fails alone; a fork that hangs in C past the limit is killed.
_CHILD = r"""
import contextlib, io, json, os, random, resource, select, signal, sys
out = os.fdopen(os.dup(1), "w")
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
jobs, limit = json.load(sys.stdin)
GLOBAL_SEED = "codeio-global|" + os.environ.get("PYTHONHASHSEED", "")
try:
    import numpy  # imported once here, not in every fork (time), and its global generator seeded in each fork
except ImportError:
    numpy = None
class Timeout(BaseException):
    pass
def alarm(*_):
    raise Timeout()
def run(code, generator, rng_seed):
    random.seed(GLOBAL_SEED)  # after the fork: Python reseeds ``random`` from os.urandom in every forked child
    if numpy is not None:
        numpy.random.seed(int.from_bytes(GLOBAL_SEED.encode()[-4:], "little"))
    try:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    except (ValueError, OSError):
        pass
    signal.signal(signal.SIGPROF, alarm)
    signal.setitimer(signal.ITIMER_PROF, limit)  # CPU time of this fork
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        ns = {"Random": random.Random}
        exec(code + "\n\n" + generator, ns, ns)
        inputs = ns["generate_inputs"](random.Random(rng_seed))
        shown = json.dumps(inputs, allow_nan=False)
        output = json.dumps(ns["main_solution"](**inputs), allow_nan=False)
    signal.setitimer(signal.ITIMER_PROF, 0)
    return [shown, output]
for code, generator, rng_seed in jobs:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            data = json.dumps(run(code, generator, rng_seed)).encode()
        except BaseException:
            data = b"null"
        with os.fdopen(w, "wb") as pipe:
            pipe.write(data)
        os._exit(0)
    os.close(w)
    chunks, deadline = [], WALL_LIMIT
    while True:
        ready, _, _ = select.select([r], [], [], deadline)
        if not ready:
            os.kill(pid, signal.SIGKILL)
            chunks = None
            break
        chunk = os.read(r, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(r)
    os.waitpid(pid, 0)
    result = None
    if chunks:
        try:
            result = json.loads(b"".join(chunks))
        except ValueError:
            result = None
    out.write(json.dumps(result) + "\n")
    out.flush()
""".replace("MEMORY_LIMIT", str(4 << 30)).replace("WALL_LIMIT", str(WALL_LIMIT_S))

_RESULTS: dict[tuple[int, str], tuple[str, str] | None] = {}  # (row, rng seed) -> (input, output) JSON, per process


def _run_child(jobs: list[list], hash_seed: str) -> list:
    """Results of ``jobs`` in one child process. A job that kills the child, or gives no result within the time
    limit (code stuck in C, where the child's own alarm cannot interrupt it), gets None and the child is replaced
    for the jobs after it, so a result never depends on which batch a job was run in."""
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "OMP_NUM_THREADS": "1"}
    results: list = []
    with tempfile.TemporaryDirectory(prefix="fst-codeio-") as scratch:  # programs may write files: not in cwd
        while len(results) < len(jobs):
            _run_batch(jobs, results, env, scratch)
    return results


def _run_batch(jobs: list[list], results: list, env: dict, cwd: str) -> None:
    """Run the jobs not done yet in one child, appending results until it finishes them or dies."""
    proc = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env, cwd=cwd)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()
    try:
        proc.stdin.write(json.dumps([jobs[len(results):], TIME_LIMIT_S]))
        proc.stdin.close()
    except OSError:  # the child is already gone
        pass
    while len(results) < len(jobs):
        try:
            line = lines.get(timeout=WALL_LIMIT_S + 10)
        except queue.Empty:
            line = None
        try:
            result = json.loads(line) if line is not None else "died"
        except ValueError:
            result = "died"
        if not (result is None or isinstance(result, list) and len(result) == 2):  # died, hung or garbled
            results.append(None)
            break
        results.append(result)
    proc.kill()
    proc.wait()


def _pump(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def run_instances(rows: Sequence[dict], pairs: list[tuple[int, str]],
                  workers: int | None = None) -> list[tuple[str, str] | None]:
    """(input JSON, output JSON) for each (row index, rng seed), or None when the instance is not reproducible or
    fails. Runs what is not cached yet under each hash seed, in parallel child processes (large batches are
    sharded over ``workers`` child processes per hash seed, default from the CPU cores; a job's result does not
    depend on its shard, as every job runs in a fresh fork)."""
    todo = [pair for pair in dict.fromkeys(pairs) if pair not in _RESULTS]
    if todo:
        jobs = [[rows[i]["code_sample"], rows[i]["input_generator"], seed] for i, seed in todo]
        if workers is None:
            workers = max(1, min((os.cpu_count() or 2) // len(HASH_SEEDS), len(jobs) // MIN_SHARD))
        shards = max(1, min(workers, len(jobs)))
        size = -(-len(jobs) // shards)
        chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]
        with ThreadPoolExecutor(len(HASH_SEEDS) * len(chunks)) as pool:
            parts = list(pool.map(lambda task: _run_child(*task), [(c, h) for h in HASH_SEEDS for c in chunks]))
        runs = [sum(parts[i * len(chunks) : (i + 1) * len(chunks)], []) for i in range(len(HASH_SEEDS))]
        for k, pair in enumerate(todo):
            first = runs[0][k]
            agree = first is not None and all(run[k] == first for run in runs)
            _RESULTS[pair] = tuple(first) if agree else None
    return [_RESULTS[pair] for pair in pairs]
