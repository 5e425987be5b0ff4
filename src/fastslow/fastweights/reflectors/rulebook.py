"""The simulated reflector: induce the hidden Rulebook program from feedback text, write it into the prompt.

It simulates an LLM reflector without a network: it reads only the strings GEPA hands any reflector (the
reflection minibatch: by default 3 examples of input, generated output and feedback), parses the (input, expected
output) pairs the verifier's feedback names, searches the DSL for the simplest program that explains them, and
edits the prompt incrementally (the generic text stays; one instruction sentence is added, or replaces the one
written before). It is a simulated reflector, close to an oracle when careful: from three examples of the base
model's rollouts it writes the exact hidden rule (or an equivalent program) in nearly every noise-free call
(measured per mistake rate: ``fastslow.bench.reflector_recovery``, docs/results/reflector-recovery.json). Its strength is
set by ``noise``, its mistake rate: with ``noise`` > 0 it makes the mistakes an LLM reflector makes (``MISTAKES``), so a proposal can be wrong and GEPA
has to test it, and different calls on the same failures propose different prompts (a Pareto front with several
members):

* ``partial`` -- it states only part of the rule (a strict prefix of the program it found);
* ``wrong`` -- a rule that fits what it saw but is not the simplest (a consistent alternative, or one induced
  after overlooking an example);
* ``over_specific`` -- it keeps the rule and adds a worked example copied from the minibatch ("For example, 'x'
  becomes 'y'.");
* ``fix_one`` -- it fixes the one failure it looked at: a rule induced from that example alone, which may break
  the others.

A call whose prompt's rule already explains every example cannot blame the rule (the failures are the policy's).
A careful one then keeps the rule and rewrites only the framing around it (``reframe``: another of the generic
sentences the base model was pretrained with, or none), as an LLM asked to improve a working prompt rewords it
rather than answering "no change"; the variants are equally good prompts that fail on different problems, which is
what keeps several prompts on a per-instance Pareto front. ``reframe=False`` turns this off (the careful call then
proposes nothing), so whether the reworded variants change what FST achieves can be measured. A careless call
makes one of the mistakes above.
``1 - noise`` is the reflector's strength: the probability that a call is careful.
"""

from __future__ import annotations

import itertools
import math
import random
import re
from collections.abc import Mapping, Sequence

from fastslow.fastweights.reflectors.base import ReflectorStats, check_examples
from fastslow.rulebook.primitives import PRIMITIVES
from fastslow.rulebook.program import MAX_DEPTH, Program, Step
from fastslow.rulebook.tasks import GENERIC_PROMPTS

Pair = tuple[str, str]

# feedback_text always names the pair this way, correct or not; the DSL's strings are lowercase letters.
FEEDBACK_PAIR = re.compile(r"Input '([a-z]*)' -> expected '([a-z]*)'")
# Sentence boundaries: whitespace after . ! ? or any line break. The separators are kept so edits preserve layout.
SENTENCE_BREAK = re.compile(r"((?<=[.!?])\s+|\s*\n\s*)")
MAX_ALTERNATIVES = 8  # consistent programs collected beyond the simplest, for the noisy slip
MAX_SUBSETS = 16  # example subsets tried when no program explains every pair (bounds the fallback's cost)
MISTAKES = ("partial", "wrong", "over_specific", "fix_one")
MAX_WORKED_EXAMPLES = 2  # worked-example sentences an over-specific edit keeps (the oldest is dropped)
WORKED_EXAMPLE = re.compile(r"^For example, '[a-z]*' becomes '[a-z]*'\.$")

# Every step except replace, in a fixed order: PRIMITIVES order, then parameter-domain order. Replace has
# 26 x 26 instances, so its candidates are generated from the strings at hand (see _candidates).
FIXED_STEPS: tuple[Step, ...] = tuple(
    Step(p.name, params) for p in PRIMITIVES.values() if p.name != "replace"
    for params in itertools.product(*p.param_domains)
)


def _phrase_table() -> dict[str, Step]:
    """Canonical phrase -> step, over every parameter value: how a written instruction is read back."""
    return {Step(p.name, params).instruction: Step(p.name, params)
            for p in PRIMITIVES.values() for params in itertools.product(*p.param_domains)}


PHRASES = _phrase_table()


def parse_pairs(examples: Sequence[Mapping[str, str]]) -> list[Pair]:
    """(input, expected) from each example's Feedback; examples whose feedback does not name them are skipped."""
    pairs = []
    for ex in examples:
        match = FEEDBACK_PAIR.search(ex["Feedback"])
        if match:
            pairs.append((match.group(1), match.group(2)))
    return pairs


def parse_instruction(sentence: str) -> Program | None:
    """The program whose canonical ``Program.instruction`` is exactly ``sentence``, else None."""
    if not sentence.endswith(".") or len(sentence) < 2:
        return None
    parts = (sentence[0].lower() + sentence[1:-1]).split(", then ")
    steps = [PHRASES.get(part) for part in parts]
    if not 1 <= len(steps) <= MAX_DEPTH or None in steps:
        return None
    program = Program(tuple(steps))
    return program if program.instruction == sentence else None


def _explains(program: Program, pairs: Sequence[Pair]) -> int:
    return sum(program(src) == tgt for src, tgt in pairs)


def _candidates(states: tuple[str, ...], targets: tuple[str, ...], prev: str | None, last: bool) -> list[Step]:
    """Next steps worth trying. Immediately repeated primitives are skipped (two shifts are one shift, etc.).

    Replace is where the search would explode, so: x must occur in the current strings (else it does nothing)
    and y in the expected outputs. As the last step it is solved outright: the first position where a string
    differs from its target fixes x and y, so at most one candidate per example remains.
    """
    steps = [s for s in FIXED_STEPS if s.name != prev]
    if prev == "replace":
        return steps
    if last:
        pairs = set()
        for s, t in zip(states, targets):
            if len(s) == len(t) and s != t:
                i = next(i for i, (a, b) in enumerate(zip(s, t)) if a != b)
                pairs.add((s[i], t[i]))
    else:
        pairs = {(x, y) for x in set("".join(states)) for y in set("".join(targets)) if x != y}
    return steps + [Step("replace", xy) for xy in sorted(pairs)]


def induce(pairs: Sequence[Pair], max_depth: int = MAX_DEPTH) -> list[Program]:
    """Programs consistent with every pair, simplest first: the shallowest depth that has any, in the fixed step
    order, the simplest followed by up to MAX_ALTERNATIVES others of that depth. Empty if none up to max_depth.

    Breadth-first over intermediate states (one string per example). A state already reached by an earlier,
    simpler prefix is not expanded again: whatever follows it was already tried after that prefix.
    """
    if not pairs:
        return []
    sources, targets = tuple(s for s, _ in pairs), tuple(t for _, t in pairs)
    seen = {sources}
    frontier: list[tuple[tuple[Step, ...], tuple[str, ...]]] = [((), sources)]
    for depth in range(1, max_depth + 1):
        last = depth == max_depth
        found: list[Program] = []
        children = []
        for prefix, states in frontier:
            for step in _candidates(states, targets, prefix[-1].name if prefix else None, last):
                if last:  # leaves are not expanded: check example by example, stop at the first miss
                    fits = all(step(s) == t for s, t in zip(states, targets))
                else:
                    nxt = tuple(step(s) for s in states)
                    fits = nxt == targets
                    if not fits and nxt not in seen:
                        seen.add(nxt)
                        children.append(((*prefix, step), nxt))
                if fits:
                    found.append(Program((*prefix, step)))
                    if len(found) > MAX_ALTERNATIVES:
                        return found
        if found:
            return found
        frontier = children
    return []


class RulebookReflector:
    """The simulated reflector for Rulebook tasks: program induction from feedback, incremental prompt edits.

    Strength knobs (how good a reflector it is):

    - ``max_depth`` (1-3): the deepest program it can find; a task deeper than this is out of its reach.
    - ``examples_seen``: use at most this many examples per call (None: all); fewer pairs admit more
      wrong-but-consistent programs.
    - ``noise``: probability that a call makes one of the mistakes in ``MISTAKES`` (chosen uniformly), like a
      sloppy LLM; ``1 - noise`` is its strength.
    - ``seed``: seeds the slips, so a run is reproducible.
    - ``reframe``: whether a careful call on a prompt whose rule already explains every example rewords its
      framing (True) or proposes nothing (False, the default: the variants did not change what FST achieves
      beyond the seed spread, docs/results/reframe-comparison.json).
    - ``min_agreement``: when no program explains every pair (noisy feedback, too shallow a search), the
      program explaining the most pairs is used if it explains at least this fraction of them.
    """

    name = "rulebook"

    def __init__(self, max_depth: int = MAX_DEPTH, examples_seen: int | None = None, noise: float = 0.0,
                 seed: int = 0, min_agreement: float = 0.5, reframe: bool = False) -> None:
        if not 1 <= max_depth <= MAX_DEPTH:
            raise ValueError(f"max_depth must be 1 to {MAX_DEPTH}, got {max_depth}")
        if examples_seen is not None and examples_seen < 1:
            raise ValueError(f"examples_seen must be at least 1 or None, got {examples_seen}")
        if not 0.0 <= noise <= 1.0 or not 0.0 <= min_agreement <= 1.0:
            raise ValueError(f"noise and min_agreement must lie in [0, 1], got {noise} and {min_agreement}")
        self.max_depth, self.examples_seen, self.noise, self.min_agreement = max_depth, examples_seen, noise, \
            min_agreement
        self.reframe = reframe
        self.rng = random.Random(seed)
        self.stats = ReflectorStats()
        self.last_mistake: str | None = None

    def propose(self, current_prompt: str, examples: Sequence[Mapping[str, str]]) -> str | None:
        examples = check_examples(current_prompt, examples)
        self.stats.calls += 1
        seen = examples[: self.examples_seen]
        pairs = parse_pairs(seen)
        # both drawn on every call, whatever happens next, so a run is reproducible from the seed
        slip, coin = self.rng.random() < self.noise, self.rng.random()
        mistake = MISTAKES[min(int(coin * len(MISTAKES)), len(MISTAKES) - 1)] if slip else None
        self.last_mistake = mistake
        if not pairs:
            return self._fail("no example feedback named an input and its expected output")
        current = next(filter(None, map(parse_instruction, _sentences(current_prompt)[::2])), None)
        if current is not None and _explains(current, pairs) == len(pairs):
            # the failures are the policy's execution errors: a careful reflector keeps the rule and rewords the
            # rest, a careless one still "fixes" something
            if mistake is None:
                # without reframe a careful call has nothing to change. The variant is drawn either way, so the
                # rng stream (and every later call) is the same with and without reframe: a controlled comparison
                variant = reframe(current_prompt, self.rng)
                return self._proposal(current_prompt, variant if self.reframe else current_prompt)
            if mistake == "over_specific":
                return self._proposal(current_prompt, add_worked_example(current_prompt, self._failed_pair(seen)))
        program = self._choose(pairs, mistake, seen)
        if program is None:
            return self._fail(f"no program of depth <= {self.max_depth} explains at least "
                              f"{self.min_agreement:.0%} of {len(pairs)} examples")
        if mistake == "partial" and program.depth > 1:
            program = Program(program.steps[: self.rng.randint(1, program.depth - 1)])
        new = edit_prompt(current_prompt, program.instruction)
        if mistake == "over_specific":
            new = add_worked_example(new, self._failed_pair(seen))
        return self._proposal(current_prompt, new)

    def _proposal(self, current_prompt: str, new: str) -> str | None:
        if new == current_prompt:
            return None
        self.stats.proposals += 1
        return new

    def _failed_pair(self, examples: Sequence[Mapping[str, str]]) -> Pair:
        """One (input, expected) pair the policy got wrong (any pair if it got all of them right)."""
        pairs = parse_pairs(examples)
        wrong = [pair for ex, pair in zip(examples, pairs)
                 if pair[1] != ex["Generated Outputs"].split(">")[-1].strip()]
        return self.rng.choice(wrong or pairs)

    def _choose(self, pairs: list[Pair], mistake: str | None = None,
                seen: Sequence[Mapping[str, str]] = ()) -> Program | None:
        """The simplest program explaining every pair; else the one explaining most, if enough. A ``wrong``
        mistake overlooks an example or takes a consistent alternative; ``fix_one`` looks at one failure only."""
        if mistake == "fix_one" and seen:
            pairs = [self._failed_pair(seen)]
        elif mistake == "wrong" and len(pairs) > 1 and self.rng.random() < 0.5:
            pairs = pairs[:]
            del pairs[self.rng.randrange(len(pairs))]
        programs = induce(pairs, self.max_depth)
        if programs:
            if mistake in ("wrong", "fix_one") and len(programs) > 1:
                return self.rng.choice(programs[1:])
            return programs[0]
        n = len(pairs)
        need = max(1, math.ceil(self.min_agreement * n))
        subsets = (c for k in range(n - 1, need - 1, -1) for c in itertools.combinations(pairs, k))
        for subset in itertools.islice(subsets, MAX_SUBSETS):
            programs = induce(subset, self.max_depth)
            if programs:  # the largest subset explained first, so no other program explains more pairs
                return programs[0]
        return None

    def _fail(self, why: str) -> None:
        self.stats.failures += 1
        self.stats.warnings.append(f"simulated reflector (rulebook): {why}")


def _sentences(prompt: str) -> list[str]:
    """Sentences at even indices, the separators between them at odd ones."""
    return SENTENCE_BREAK.split(prompt)


def edit_prompt(prompt: str, instruction: str) -> str:
    """Put ``instruction`` in place of the first instruction sentence written before (dropping any others);
    append it when there is none. Everything else in the prompt is kept as it is."""
    parts = _sentences(prompt)
    old = [i for i in range(0, len(parts), 2) if parse_instruction(parts[i]) is not None]
    if not old:
        body = prompt.rstrip()
        sep = "" if not body else " " if body[-1] in ".!?" else "\n"  # so the sentence can be found again
        return f"{body}{sep}{instruction}"
    parts[old[0]] = instruction
    for i in reversed(old[1:]):
        del parts[i - 1 : i + 1]  # the sentence and the separator before it
    return "".join(parts)


def add_worked_example(prompt: str, pair: Pair) -> str:
    """Append "For example, 'x' becomes 'y'." (an over-specific edit), keeping at most MAX_WORKED_EXAMPLES."""
    sentence = f"For example, '{pair[0]}' becomes '{pair[1]}'."
    parts = _sentences(prompt)
    old = [i for i in range(0, len(parts), 2) if WORKED_EXAMPLE.match(parts[i])]
    for i in reversed(old[: max(0, len(old) - MAX_WORKED_EXAMPLES + 1)]):
        if i > 0:
            del parts[i - 1 : i + 1]  # the sentence and the separator before it
        else:
            del parts[i : i + 2]
    body = "".join(parts).rstrip()
    sep = "" if not body else " " if body[-1] in ".!?" else "\n"
    return f"{body}{sep}{sentence}"


def reframe(prompt: str, rng: random.Random) -> str:
    """The prompt with its framing reworded: the first sentence that is neither a rule nor a worked example
    becomes another generic sentence from the base model's pretraining mixture, or is dropped; a prompt without
    one gets one in front. The rule and any worked examples stay as they are."""
    parts = _sentences(prompt)
    framing = [i for i in range(0, len(parts), 2)
               if parts[i].strip() and parse_instruction(parts[i]) is None and not WORKED_EXAMPLE.match(parts[i])]
    used = {parts[i] for i in framing}
    options = [g for g in GENERIC_PROMPTS if g not in used] + ([""] if framing else [])
    choice = rng.choice(options)
    if not framing:
        return f"{choice} {prompt.lstrip()}" if prompt.strip() else choice
    i = framing[0]
    if choice:
        parts[i] = choice
    elif i + 1 < len(parts):
        del parts[i : i + 2]  # the sentence and the separator after it
    else:
        del parts[max(0, i - 1) : i + 1]
    return "".join(parts).strip()
