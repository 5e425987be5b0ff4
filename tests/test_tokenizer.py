"""The locally built base-model tokenizer: lossless, word-level instructions, letter-level inputs, ChatML."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer

from fastslow.model.tokenizer import BOS, END, EOS, PAD, build_tokenizer, instruction_vocabulary
from fastslow.rulebook.primitives import ALPHABET
from fastslow.rulebook.program import Program

FAST = settings(max_examples=50, deadline=None)


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer()


def _ids(tok, text):
    return tok.encode(text, add_special_tokens=False)


@FAST
@given(text=st.text(max_size=60))
def test_round_trip_arbitrary_text(tok, text):
    assert tok.decode(_ids(tok, text)) == text


@pytest.mark.parametrize("text", [
    "héllo 🙂 wörld", "a . b , c", " x ,y", "it's", "\x00\n\t", "日本語のテキスト", "  double  spaces  ",
    "Reverse the string, then shift each letter forward by 2.", "cba>edc>cdb",
])
def test_round_trip_examples(tok, text):
    assert tok.decode(_ids(tok, text)) == text


def test_encode_adds_no_special_tokens_by_default(tok):
    assert tok.encode("abc") == _ids(tok, "abc")
    assert len(tok.encode("abc")) == 3


def test_instruction_vocabulary_contents():
    vocab = instruction_vocabulary()
    for w in ["reverse", "Reverse", "shift", "Shift", "letters", "alphabetically", "Transform", "rule", "then"]:
        assert w in vocab
    assert len(vocab) == len(set(vocab))
    assert all(len(w) >= 2 and w.isalpha() for w in vocab)


def test_every_instruction_word_with_leading_space_is_one_token(tok):
    vocab = instruction_vocabulary()
    assert len(vocab) > 50
    multi = {w: tok.convert_ids_to_tokens(_ids(tok, " " + w)) for w in vocab if len(_ids(tok, " " + w)) != 1}
    assert multi == {}


def test_every_instruction_word_without_space_is_one_token(tok):
    multi = [w for w in instruction_vocabulary() if len(_ids(tok, w)) != 1]
    assert multi == []


def test_instruction_is_read_word_by_word(tok):
    text = Program.parse("reverse|shift:2|swap_pairs").instruction
    # "Reverse the string, then shift each letter forward by 2, then swap each adjacent pair of letters."
    tokens = tok.convert_ids_to_tokens(_ids(tok, text))
    assert tokens[:3] == ["Reverse", "Ġthe", "Ġstring"]
    assert len(tokens) == 21  # 16 words + "," + " " "2" + "," + "."


@pytest.mark.parametrize("text", ["hello", "abc", "qwxyz", "zzzzzz"])
def test_input_letters_are_one_token_each(tok, text):
    tokens = tok.convert_ids_to_tokens(_ids(tok, text))
    assert tokens == list(text)


def test_every_lowercase_letter_is_its_own_token(tok):
    ids = [_ids(tok, c) for c in ALPHABET]
    assert all(len(i) == 1 for i in ids)
    assert len({i[0] for i in ids}) == 26


@pytest.mark.parametrize("text", ["kby", "jmtzby", "xthe", "qto"])
def test_input_letters_stay_single_even_if_a_word_is_embedded(tok, text):
    assert tok.convert_ids_to_tokens(_ids(tok, text)) == list(text)


def test_special_tokens(tok):
    assert tok.pad_token == PAD
    assert tok.eos_token == END
    assert tok.bos_token == BOS
    assert tok.pad_token_id is not None and tok.eos_token_id is not None
    assert tok.pad_token_id != tok.eos_token_id
    for special in (EOS, BOS, END, PAD):
        assert len(_ids(tok, special)) == 1
    assert tok.padding_side == "left"


def test_chat_template_chatml(tok):
    messages = [{"role": "system", "content": "Reverse the string."}, {"role": "user", "content": "abc"},
                {"role": "assistant", "content": "cba"}]
    text = tok.apply_chat_template(messages, tokenize=False)
    assert text == ("<|im_start|>system\nReverse the string.<|im_end|>\n"
                    "<|im_start|>user\nabc<|im_end|>\n"
                    "<|im_start|>assistant\ncba<|im_end|>\n")


def test_chat_template_generation_prompt(tok):
    messages = [{"role": "system", "content": "Follow the rule."}, {"role": "user", "content": "abc"}]
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text == ("<|im_start|>system\nFollow the rule.<|im_end|>\n"
                    "<|im_start|>user\nabc<|im_end|>\n<|im_start|>assistant\n")
    assert text.endswith("<|im_start|>assistant\n")
    without = tok.apply_chat_template(messages, tokenize=False)
    assert not without.endswith("<|im_start|>assistant\n")


def test_save_and_reload_gives_identical_ids(tok, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tok.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    samples = ["hello", "Reverse the string, then shift each letter forward by 2.", "abc>cba",
               "héllo 🙂", "Transform the input."]
    for text in samples:
        assert _ids(loaded, text) == _ids(tok, text)
        assert loaded.decode(_ids(loaded, text)) == text
    assert loaded.pad_token == tok.pad_token and loaded.eos_token == tok.eos_token
    assert loaded.pad_token_id == tok.pad_token_id and loaded.eos_token_id == tok.eos_token_id
    msgs = [{"role": "system", "content": "S"}, {"role": "user", "content": "abc"}]
    assert loaded.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True) == \
        tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    assert len(loaded) == len(tok)
