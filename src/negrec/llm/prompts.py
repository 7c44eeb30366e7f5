"""The seed's four prompt templates (SEED-METHOD §2.1) and parsing a T-train/T-pred prompt back."""

from __future__ import annotations

import re

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
}
DEFAULT_TEMPLATE = "train"

_INSTRUCTION = re.compile(r"### Instruction:\s*(.*?)\s*### Input:", re.DOTALL)
_INPUT = re.compile(r"### Input:\s*(.*?)\s*### Response:", re.DOTALL)


def render(instruction: str, input: str, template: str = DEFAULT_TEMPLATE) -> str:
    """Fill a template by name ('train', 'pred', 'alpaca', 'concat'); an empty input drops its block."""
    try:
        text = TEMPLATES[template]
    except KeyError:
        raise ValueError(f"unknown template {template!r}; choose one of {sorted(TEMPLATES)}") from None
    if not input and template != "concat":
        text = re.sub(r"### Input:\n\{input\}\n+", "", text)
    return text.format(instruction=instruction, input=input)


def parse_prompt(prompt: str, *, where: str = "prompt", record: int | None = None) -> tuple[str, str]:
    """Instruction and input of a T-train/T-pred prompt (the seed's regexes, stripped)."""
    ins, inp = _INSTRUCTION.search(prompt), _INPUT.search(prompt)
    if ins is None or inp is None:
        missing = "### Instruction:/### Input:" if ins is None else "### Input:/### Response:"
        raise DataError(f"prompt lacks the template markers {missing}", path=where, record=record, field="prompt")
    return ins.group(1).strip(), inp.group(1).strip()
