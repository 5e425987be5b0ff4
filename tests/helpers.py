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
