"""The seed's four prompt templates (docs/seed-method.md §2.1) and parsing a T-train/T-pred prompt back."""

from __future__ import annotations

import re
from collections import Counter
from typing import Sequence

from negrec.data.titles import parse_title_list, quote
from negrec.errors import DataError

ALPACA_HEADER = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.  \n\n"
)
TEMPLATES = {
    # SFT, candidate generation and every preference-data prompt
    "train": "### Instruction:\n{instruction}\n### Input:\n{input}\n### Response:",
    # test-time greedy prediction
    "pred": "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:",
    # SPRec self-play generation
    "alpaca": ALPACA_HEADER + "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n",
    # SPRec self-play DPO records: plain concatenation
    "concat": "{instruction}{input}",
    # negrec's short prompt: the quoted history titles alone, then the response marker (≈35 tokens with
    # title tokens instead of ≈86); the instruction and the input's boilerplate carry no information
    "compact": "{input}\n### Response:",
    # the item sequence alone (quoted titles back to back; with title tokens: the ids and nothing else), for
    # the SASRec-style reference model that shows what the language wrapper adds
    "ids": "{input}",
}
DEFAULT_TEMPLATE = "train"


def render(instruction: str, input: str, template: str = DEFAULT_TEMPLATE) -> str:
    """Fill a template by name (see TEMPLATES); an empty input drops its block."""
    try:
        text = TEMPLATES[template]
    except KeyError:
        raise ValueError(f"unknown template {template!r}; choose one of {sorted(TEMPLATES)}") from None
    if template == "compact":
        first, last = input.find('"'), input.rfind('"')
        return text.format(input=input[first : last + 1] if 0 <= first < last else input)
    if template == "ids":
        return "".join(quote(t) for t in parse_title_list(input))
    if not input and template != "concat":
        text = re.sub(r"### Input:\n\{input\}\n+", "", text)
    return text.format(instruction=instruction, input=input)


def _between(text: str, start: str, end: str, search_from: int = 0) -> str | None:
    """Stripped text between the first `start` (from `search_from`) and the next `end`, or None."""
    a = text.find(start, search_from)
    if a < 0:
        return None
    b = text.find(end, a + len(start))
    return None if b < 0 else text[a + len(start) : b].strip()


def parse_prompt(prompt: str, *, where: str = "prompt", record: int | None = None) -> tuple[str, str]:
    r"""Instruction and input of a T-train/T-pred prompt, stripped.

    Same result as the seed's regexes `### Instruction:\s*(.*?)\s*### Input:` and
    `### Input:\s*(.*?)\s*### Response:` (DOTALL), with plain string search (4× faster on 100k prompts).
    A compact or ids prompt (no instruction block) gives an empty instruction and its title list as the input.
    """
    if "### Instruction:" not in prompt and "### Input:" not in prompt:
        end = prompt.find("### Response:")
        body = (prompt[:end] if end >= 0 else prompt).strip()
        if end >= 0 or (len(body) >= 2 and body[0] == body[-1] == '"'):  # compact, or an ids prompt (titles only)
            return "", body
    instruction = _between(prompt, "### Instruction:", "### Input:")
    inp = _between(prompt, "### Input:", "### Response:")
    if instruction is None or inp is None:
        missing = "### Instruction:/### Input:" if instruction is None else "### Input:/### Response:"
        raise DataError(f"prompt lacks the template markers {missing}", path=where, record=record, field="prompt")
    return instruction, inp


MARKERS = ("### Instruction:", "### Input:", "### Response:")
LIST_SEPARATOR = '", "'  # between the quoted titles of a history


def title_clashes(titles: Sequence[str], special_tokens: Sequence[str] = ("<s>", "</s>", "<pad>", "<unk>")) -> list[str]:
    """Why titles would break the prompt format, one line per problem (first title named): a template marker cuts the
    history short, a special token becomes a control token mid-prompt, the list separator or a doubled quote makes two
    titles read as one (or one as two), a repeated title is two items with one name."""
    checks = [(f"holds the template marker {m!r}", lambda t, m=m: m in t) for m in MARKERS]
    checks += [(f"holds the special token {tok!r}", lambda t, tok=tok: tok in t) for tok in special_tokens]
    checks += [
        (f"holds the list separator {LIST_SEPARATOR!r}", lambda t: LIST_SEPARATOR in t),
        ("holds '\"\"' (two titles written back to back)", lambda t: '""' in t),
        ("holds a line break", lambda t: "\n" in t),
    ]
    problems = []
    for what, test in checks:
        bad = [t for t in titles if test(t)]
        if bad:
            problems.append(f"{len(bad)} title(s) {what}, e.g. {bad[0]!r}")
    repeated = [t for t, n in Counter(titles).items() if n > 1]
    if repeated:
        problems.append(f"{len(repeated)} title(s) appear more than once, e.g. {repeated[0]!r}")
    return problems
