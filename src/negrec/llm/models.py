"""Load any local causal LM by path (no network): CUDA when present, fp32 on CPU, optional LoRA."""

from __future__ import annotations

import os
from pathlib import Path


def device() -> str:
    """'cuda' when a GPU is visible, else 'cpu'."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_model(path: str | Path, *, lora_adapter: str | Path | None = None, trainable: bool = False):
    """(model, tokenizer) from a local directory; left padding and a pad token for batched generation."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"model directory not found: {path}")
    from negrec.llm.titletok import TITLE_TABLE

    if (path / TITLE_TABLE).is_file():  # a title-token model: structural encoding, titles decoded via the table
        from negrec.llm.titletok import TitleTokenizer

        tokenizer = TitleTokenizer.load(path)
    else:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dev = device()
    dtype = torch.bfloat16 if dev == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=dtype).to(dev)
    if lora_adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(lora_adapter), is_trainable=trainable)
    model.eval()
    return model, tokenizer
