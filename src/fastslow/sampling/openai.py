"""``OpenAISampler``: completions from any OpenAI-compatible server (``vllm serve``, SGLang, a hosted endpoint).

For evaluation and GEPA rounds against a model that a server already holds; the server's weights never change, so
the config allows this backend in ``mode: gepa`` only. Prompts are rendered with the run's own tokenizer and chat
template and sent as token ids to ``/completions`` (not ``/chat/completions``), so the server sees exactly the
tokens ``HFSampler`` would feed the model. One request per prompt (``n`` samples each, its own seed: ``seeds[i]``
or ``params.seed + i * n``), ``concurrency`` of them in flight. Only the standard library is used (no client package).

The completion's token ids come from the server when it returns them (vLLM: ``return_token_ids``), else from
``return_tokens_as_token_ids``-style ``token:<id>`` strings, else by re-tokenising the text locally. Log-probs are
what the server reports for the sampled tokens (``logprobs: 0``); for ``vllm serve`` they follow its
``--logprobs-mode`` (start it with ``processed_logprobs`` to get the tempered distribution, as the other backends).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from fastslow.sampling.base import ChatSampler, Completion, SamplingParams, request_seed
from fastslow.sampling.errors import SamplerError


class OpenAISampler(ChatSampler):
    """Sampler over an OpenAI-compatible ``/completions`` endpoint at ``base_url`` (e.g. ``http://host:8000/v1``)."""

    def __init__(self, base_url: str, tokenizer, model: str | None = None, api_key: str | None = None,
                 timeout: float = 300.0, concurrency: int = 8, chat_template_kwargs: dict | None = None):
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise SamplerError(f"rollout.openai.base_url must be an http(s) URL such as http://127.0.0.1:8000/v1, "
                               f"got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.tokenizer = tokenizer
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.timeout = timeout
        self.concurrency = concurrency
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        self.model = model or self._first_model()

    # ---- HTTP ----------------------------------------------------------------------------------------------
    def _call(self, path: str, body: dict | None = None) -> dict:
        url = f"{self.base_url}/{path}"
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")[:500]
            raise SamplerError(f"openai backend: {url} answered HTTP {err.code}: {detail}") from err
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise SamplerError(f"openai backend: could not reach {url} ({reason}); is the server running?") from err
        except json.JSONDecodeError as err:
            raise SamplerError(f"openai backend: {url} did not answer with JSON ({err})") from err

    def _first_model(self) -> str:
        models = self._call("models").get("data") or []
        if not models:
            raise SamplerError(f"openai backend: {self.base_url}/models lists no model; set rollout.openai.model")
        return models[0]["id"]

    # ---- generation ----------------------------------------------------------------------------------------
    def request_body(self, prompt_ids: list[int], params: SamplingParams, n: int, index: int,
                     seeds: Sequence[int] | None = None) -> dict:
        body = {"model": self.model, "prompt": list(prompt_ids), "n": n, "max_tokens": params.max_new_tokens,
                "temperature": params.temperature, "top_p": params.top_p, "logprobs": 0,
                "return_token_ids": True, "return_tokens_as_token_ids": True}
        seed = request_seed(params, n, index, seeds)
        if seed is not None:
            body["seed"] = seed
        if self.tokenizer.eos_token_id is not None:
            body["stop_token_ids"] = [self.tokenizer.eos_token_id]  # vLLM extension; others ignore it
        return body

    def sample_ids(self, prompt_ids: Sequence[list[int]], params: SamplingParams, n: int = 1,
                   seeds: Sequence[int] | None = None) -> list[list[Completion]]:
        bodies = [self.request_body(p, params, n, i, seeds) for i, p in enumerate(prompt_ids)]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            answers = list(pool.map(lambda b: self._call("completions", b), bodies))
        return [self._completions(p, answer, n) for p, answer in zip(prompt_ids, answers)]

    def _completions(self, prompt: list[int], answer: dict, n: int) -> list[Completion]:
        choices = sorted(answer.get("choices") or [], key=lambda c: c.get("index", 0))
        if len(choices) != n:
            raise SamplerError(f"openai backend: asked for {n} completions, the server returned {len(choices)}")
        return [self._completion(prompt, c) for c in choices]

    def _completion(self, prompt: list[int], choice: dict) -> Completion:
        logprobs = choice.get("logprobs") or {}
        tokens = logprobs.get("tokens") or []
        ids = choice.get("token_ids")
        if ids is None and tokens and all(isinstance(t, str) and t.startswith("token:") for t in tokens):
            ids = [int(t.removeprefix("token:")) for t in tokens]
        if ids is None:
            ids = self.tokenizer(choice.get("text", ""), add_special_tokens=False)["input_ids"]
        logps = [float(x) if x is not None else 0.0 for x in logprobs.get("token_logprobs") or []]
        if len(logps) != len(ids):  # a server without log-probs: the learner cannot use these (mode gepa only)
            logps = [0.0] * len(ids)
        return Completion(prompt_ids=list(prompt), token_ids=list(ids), logprobs=logps,
                          text=self.tokenizer.decode(ids, skip_special_tokens=True),
                          finished=choice.get("finish_reason") == "stop",
                          meta={"server_text": choice.get("text", "")})
