"""The "light" recipe's proposer prompt: incremental edits of the current prompt, not rewrites (paper App. E).

The paper does not publish its prompt; this one follows its description: change the current instruction
minimally, keep what already works, add targeted guidance for the failures observed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

INCREMENTAL_EDIT_TEMPLATE = """You are improving the system prompt of an assistant that is being trained on a task.

The current system prompt is:
```
{current_prompt}
```

Below are examples of the assistant's inputs, its outputs under this prompt, and feedback on each output.
{examples}

Propose an improved system prompt by EDITING the current one incrementally:
- keep everything in it that already works, its role and its output format;
- change it minimally: add or revise only the guidance that addresses the failures shown in the feedback;
- state any rule you can infer from the feedback precisely and generally, not for one example only;
- keep it short (at most {max_chars} characters).

Return only the new system prompt, inside a single ``` block."""


def format_examples(examples: Sequence[Mapping[str, str]]) -> str:
    parts = []
    for i, ex in enumerate(examples, 1):
        parts.append(f"# Example {i}\n## Inputs\n{ex['Inputs']}\n## Generated Outputs\n{ex['Generated Outputs']}\n"
                     f"## Feedback\n{ex['Feedback']}")
    return "\n\n".join(parts)


def build_proposer_prompt(current_prompt: str, examples: Sequence[Mapping[str, str]], max_chars: int) -> str:
    return INCREMENTAL_EDIT_TEMPLATE.format(current_prompt=current_prompt, examples=format_examples(examples),
                                            max_chars=max_chars)


def extract_fenced(text: str) -> str | None:
    """The content of the first ``` block (a language tag on the opening fence is dropped); None if absent."""
    start = text.find("```")
    if start < 0:
        return None
    end = text.find("```", start + 3)
    if end < 0:
        return None
    body = text[start + 3 : end]
    first_newline = body.find("\n")
    if first_newline >= 0 and body[:first_newline].strip().isidentifier():
        body = body[first_newline + 1 :]
    body = body.strip()
    return body or None


# -- thinking models ---------------------------------------------------------------------------------------------
# Local "thinking" models (Qwen3, DeepSeek-R1 distills, ...) wrap their reasoning in <think>...</think> before the
# answer. The reasoning may itself contain ``` blocks (drafts), so it is removed before the fenced prompt is taken.
_THINK_OPEN = re.compile(r"<think(?:ing)?>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</think(?:ing)?>", re.IGNORECASE)
_THINK_BLOCK = re.compile(r"<think(?:ing)?>.*?</think(?:ing)?>", re.IGNORECASE | re.DOTALL)

# What must never end up in a system prompt: chat-template control tokens and thinking tags that leaked through
# (a known failure of local thinking models used as reflectors: a template that does not match the model, or a
# server that returns raw text with special tokens).
TEMPLATE_RESIDUE = re.compile(
    r"<[|｜][^<>\n]{1,40}?[|｜]>"  # <|im_start|>, <|im_end|>, <|endoftext|>, <|eot_id|>, <|start_header_id|>,
    # <|assistant|>, <|user|>, <|end|>, DeepSeek's <｜end▁of▁sentence｜> ...
    r"|</?think(?:ing)?>"  # thinking tags
    r"|\[/?INST\]|<</?SYS>>"  # Llama-2 / Mistral
    r"|</?s>"  # sentence-boundary tokens
    r"|<(?:start|end)_of_turn>",  # Gemma
    re.IGNORECASE,
)


def strip_thinking(text: str) -> str:
    """``text`` without its thinking: every ``<think>...</think>`` block; everything up to a closing
    ``</think>`` that has no opening tag before it (the chat template opened the block in the prompt); and an
    unterminated leading ``<think>`` block (the model never finished thinking: nothing usable is left)."""
    first_close, first_open = _THINK_CLOSE.search(text), _THINK_OPEN.search(text)
    if first_close is not None and (first_open is None or first_open.start() > first_close.start()):
        text = text[first_close.end():]
    text = _THINK_BLOCK.sub("", text)
    if _THINK_OPEN.match(text.lstrip()):
        return ""
    return text


def find_template_residue(text: str) -> str | None:
    """The first chat-template or thinking token left in ``text``, or None if it is clean."""
    match = TEMPLATE_RESIDUE.search(text)
    return match.group(0) if match else None
