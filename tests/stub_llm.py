"""A stub OpenAI-compatible chat server on 127.0.0.1 for reliability tests and ``fastslow.bench.faults``: it answers
``/v1/chat/completions`` the way a chosen fault looks from litellm (401, 500, a hang past the client's timeout,
garbage, an unclosed fence, or a good fenced edit), and stops answering after ``max_requests`` (bounded: a retry
loop gone wrong cannot spin forever)."""

from __future__ import annotations

import json
import time
from contextlib import suppress
from http.server import BaseHTTPRequestHandler

from helpers import LocalHTTPServer, send_chat_completion, send_json_bytes

CLIENT_GONE = (BrokenPipeError, ConnectionResetError)  # the client gave up (a timeout) before the answer
MODES = ("ok", "401", "404", "500", "timeout", "garbage", "unclosed", "repeat")


class StubLLM(LocalHTTPServer):
    def __init__(self, mode: str = "ok", max_requests: int = 200, hang_s: float = 3.0):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.mode, self.max_requests, self.hang_s = mode, max_requests, hang_s
        self.requests: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                stub.requests.append(body)
                n = len(stub.requests)
                if n > stub.max_requests:
                    return self._send(503, {"error": {"message": "stub: request limit reached"}})
                mode = stub.mode
                if mode == "401":
                    return self._send(401, {"error": {"message": "Incorrect API key provided", "type":
                                                      "invalid_request_error", "code": "invalid_api_key"}})
                if mode == "404":
                    return self._send(404, {"error": {"message": f"The model {body.get('model')} does not exist",
                                                      "type": "invalid_request_error", "code": "model_not_found"}})
                if mode == "500":
                    return self._send(500, {"error": {"message": "stub: internal error"}})
                if mode == "timeout":
                    time.sleep(stub.hang_s)
                if mode == "garbage":
                    return self._raw(200, b"\x00\xffnot json at all")
                prompt = body.get("messages", [{}])[0].get("content", "")
                current = prompt.split("```", 2)[1].strip("\n") if prompt.count("```") >= 2 else "p"
                content = {"ok": f"Edited:\n```\n{current} Check every step ({n}).\n```",
                           "timeout": f"```\n{current} Late ({n}).\n```",
                           "unclosed": f"```\n{current} Never closed ({n}).",
                           "repeat": f"```\n{current}\n```"}[mode]
                with suppress(*CLIENT_GONE):
                    send_chat_completion(self, 200, body.get("model"), content, f"stub-{n}", usage=(10, 5))

            def _send(self, status, obj):
                self._raw(status, json.dumps(obj).encode())

            def _raw(self, status, data):
                with suppress(*CLIENT_GONE):
                    send_json_bytes(self, status, data)

            def log_message(self, *args):
                pass

        super().__init__(Handler)


def no_proxy(environ) -> None:
    """Requests to 127.0.0.1 must not go through a proxy set in the environment."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        environ.pop(var, None)
    environ["NO_PROXY"] = environ["no_proxy"] = "127.0.0.1,localhost"
