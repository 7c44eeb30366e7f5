"""The embedded default LLM: a byte-level BPE tokenizer trained on the dataset's own text and a small
Llama-style model built from a config, saved as an ordinary Hugging Face model directory.

`titles="tokens"` adds one vocabulary entry per catalog title (see `negrec.llm.titletok`): a title is then
one decoding step and one softmax choice, which is what lets a from-scratch model learn on a CPU;
`titles="text"` spells titles in BPE pieces, like a pretrained model does."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

from negrec.data.io import write_json
from negrec.data.outputs import atomic_dir
from negrec.data.prompts import TEMPLATES, render

TINY_KIND = "llm tiny model"  # the marker of a folder init_tiny wrote (see data.outputs.claim_output)
SPECIAL = {"pad_token": "<pad>", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}


@dataclass(frozen=True)
class TinyConfig:
    """Size of the from-scratch model; the default (~4M parameters) SFTs ~1k examples in minutes on 2 cores."""

    vocab_size: int = 4096
    hidden_size: int = 256
    intermediate_size: int = 688
    num_layers: int = 4
    num_heads: int = 4
    max_positions: int = 512
    seed: int = 0
    titles: str = "text"  # "text": titles spelled in BPE pieces; "tokens": one token per catalog title

    def __post_init__(self) -> None:
        if self.titles not in ("text", "tokens"):
            raise ValueError(f"titles must be 'text' or 'tokens', got {self.titles!r}")


def training_texts(records: Sequence[dict], titles: Sequence[str]) -> Iterable[str]:
    """What the tokenizer learns from: every catalog title (quoted, as in prompts) and every prompt template
    filled with the records, with their answers."""
    for title in titles:
        yield f'"{title}"'
    for rec in records:
        for name in TEMPLATES:
            yield render(rec["instruction"], rec["input"], name) + "\n" + rec["output"].strip()


def train_tokenizer(texts: Iterable[str], vocab_size: int):
    """A byte-level BPE (no unknown bytes) wrapped as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL.values()),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, **SPECIAL)


def init_tiny(records: Sequence[dict], titles: Sequence[str], out: str | Path, config: TinyConfig = TinyConfig()) -> Path:
    """Train the tokenizer, build a Llama-style model with random weights (seeded) and save both to `out`, written as a
    unit (nothing of an earlier folder there survives into the new one)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from negrec.data.prompts import title_clashes

    out = Path(out)
    clashes = title_clashes(titles, list(SPECIAL.values()))
    if clashes:  # a model built on them would misread its own prompts
        raise ValueError("catalog titles clash with the prompt format: " + "; ".join(clashes))
    tokenizer = train_tokenizer(training_texts(records, titles), config.vocab_size)
    offset = None
    if config.titles == "tokens":
        from negrec.llm.titletok import add_title_tokens

        offset = add_title_tokens(tokenizer, titles)
    torch.manual_seed(config.seed)
    model_config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_heads,
        max_position_embeddings=config.max_positions,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(model_config)
    with atomic_dir(out, kind=TINY_KIND) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if offset is not None:
            from negrec.llm.titletok import write_title_table

            write_title_table(tmp, titles, offset)
        write_json(tmp / "negrec_tiny.json", asdict(config))
    return out
