"""The base model's tokenizer, built locally with ``tokenizers`` (no download).

Byte-level BPE whose merges only ever form *known instruction words* (each with an optional leading space);
every other character, in particular the letters of inputs and answers, stays a single token. A tiny model can
then read an instruction word by word yet manipulate the strings letter by letter. Any text still encodes
losslessly, so prompts written by an LLM reflector work too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from fastslow.rulebook.primitives import PRIMITIVES
from fastslow.rulebook.tasks import GENERIC_PROMPTS

EOS, BOS, PAD, END = "<|endoftext|>", "<|im_start|>", "<|pad|>", "<|im_end|>"
SPECIAL_TOKENS = [EOS, BOS, END, PAD]

# system = instruction (fast weights), user = input, assistant = answer
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

EXTRA_WORDS = "system user assistant output input answer string letters rule the each every then and".split()


def instruction_vocabulary() -> list[str]:
    """Every word of every canonical phrasing and seed prompt, in lower and capitalised form."""
    texts: list[str] = list(GENERIC_PROMPTS) + EXTRA_WORDS
    for prim in PRIMITIVES.values():
        domains = prim.param_domains or ((),)
        values = [v for d in domains for v in d] or [None]
        for v in values:
            args = [v] * prim.arity
            texts.append(prim.phrase(*args))
    words = {w for t in texts for w in re.findall(r"[A-Za-z]{2,}", t)}
    words |= {w.capitalize() for w in words} | {w.lower() for w in words}
    return sorted(words, key=lambda w: (-len(w), w))


def _split_pattern(words: Iterable[str]) -> str:
    alternation = "|".join(re.escape(w) for w in words)
    return rf" ?(?<![A-Za-z])(?:{alternation})(?![A-Za-z])|[\s\S]"


def build_tokenizer() -> PreTrainedTokenizerFast:
    words = instruction_vocabulary()
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(_split_pattern(words)), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    corpus = words + [" " + w for w in words]
    trainer = trainers.BpeTrainer(vocab_size=100_000, min_frequency=1, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=BOS, eos_token=END, pad_token=PAD, unk_token=None,
        padding_side="left", chat_template=CHAT_TEMPLATE, model_max_length=256,
    )
