"""Test doubles shared by several test files (pytest puts this folder on sys.path)."""

from fastslow.fastweights.reflectors.base import ReflectorStats, check_examples


class HintReflector:
    """A reflector that always proposes a new prompt: the current one plus a numbered hint. Deterministic and
    cheap, so a test of the loop's plumbing does not depend on what a real reflector would find."""

    name = "hint"

    def __init__(self):
        self.stats = ReflectorStats()

    def propose(self, current, examples):
        check_examples(current, examples)
        self.stats.calls += 1
        return f"{current} Hint {self.stats.calls}."


def user_module(tmp_path, monkeypatch, prefix: str, source: str, folder: str) -> str:
    """Write ``source`` as a uniquely named module in ``tmp_path/folder``, put that folder on sys.path for the test,
    and return the module's name (what a user's ``module:attr`` id names)."""
    import uuid

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    where = tmp_path / folder
    where.mkdir()
    (where / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(where))
    return name


class LocalHTTPServer:
    """An HTTP server on a free 127.0.0.1 port, answering from a daemon thread while the ``with`` block runs (the
    stub chat servers of several test files subclass it with their own request handler); ``api_base`` is its
    OpenAI-style base URL."""

    def __init__(self, handler):
        import threading
        from http.server import ThreadingHTTPServer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.api_base = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def send_chat_completion(handler, status: int, model: str, content: str, completion_id: str,
                         usage: tuple[int, int]) -> None:
    """Answer an OpenAI ``/v1/chat/completions`` request from an ``http.server`` handler with one assistant
    message (what litellm parses)."""
    import json

    prompt_tokens, completion_tokens = usage
    out = json.dumps({
        "id": completion_id, "object": "chat.completion", "created": 1, "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens}}).encode()
    send_json_bytes(handler, status, out)


def send_json_bytes(handler, status: int, body: bytes) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def vllm_server(model, served_name: str, log, start_timeout: float, *extra_args: str):
    """Run vLLM's OpenAI-compatible server on a free 127.0.0.1 port for a test (CPU, fp32, eager, seed 0): waits
    until ``/v1/models`` answers (a server that exits or misses ``start_timeout`` fails the test with the tail of
    ``log``), yields the base URL, and ends the server's whole process group (its engine-core child too)."""
    import contextlib
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    import pytest

    @contextlib.contextmanager
    def serve():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "OMP_NUM_THREADS": "1", "VLLM_LOGGING_LEVEL": "WARNING"}
        env.pop("VLLM_ENABLE_V1_MULTIPROCESSING", None)  # a real server process: vLLM's own process layout
        with open(log, "w") as sink:
            proc = subprocess.Popen([sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model",
                                     str(model), "--served-model-name", served_name, "--dtype", "float32",
                                     "--max-model-len", "256", "--enforce-eager", "--host", "127.0.0.1", "--port",
                                     str(port), "--seed", "0", *extra_args],
                                    env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}/v1"
        try:
            deadline = time.time() + start_timeout
            while True:
                try:
                    urllib.request.urlopen(f"{url}/models", timeout=5).read()
                    break
                except OSError:
                    if proc.poll() is not None or time.time() > deadline:
                        pytest.fail(f"vLLM server did not start:\n{open(log).read()[-4000:]}")
                    time.sleep(1)
            yield url
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    return serve()
