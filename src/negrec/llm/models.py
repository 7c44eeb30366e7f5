"""Load any local causal LM by path (no network): CUDA when present, fp32 on CPU, optional LoRA."""

from __future__ import annotations

import os
from pathlib import Path


def device() -> str:
    """'cuda' when a GPU is visible, else 'cpu'."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


SETTINGS_FILE = "negrec.json"  # inside a trained model folder: the stage's settings (template, data, options)


def resolve_model_dir(path: str | Path) -> Path:
    """A model folder as given, or the `final/` model of a training run folder given in its place; anything else is
    refused, naming what to pass."""
    from negrec.errors import DataError

    path = Path(path)
    if not path.is_dir():
        raise DataError("model directory not found", path=path)
    if (path / "config.json").is_file() and any((path / name).is_file() for name in ("model.safetensors", "pytorch_model.bin")):
        return path
    if (path / "final" / "config.json").is_file():
        return path / "final"
    raise DataError("is not a model folder (no config.json with weights); pass a model folder, e.g. <run>/final", path=path)


def model_settings(path: str | Path) -> dict:
    """The settings a training stage recorded with its model ({} for a model no negrec stage trained)."""
    import json

    file = Path(path) / SETTINGS_FILE
    return json.loads(file.read_text(encoding="utf-8")) if file.is_file() else {}


def write_run_readme(out: Path, config: dict, logged: int) -> Path:
    """negrec's own README for a training run folder (in place of the trainer library's model card)."""
    settings = "\n".join(f"- `{k}`: {v}" for k, v in sorted(config.items()) if not isinstance(v, (list, dict)))
    text = (
        f"# negrec {config.get('stage', 'training')} run\n\nThe trained model is `final/` (load it by path; its settings "
        f"are in `final/{SETTINGS_FILE}`), the training log `log.jsonl` ({logged} logged steps) and `config.json` the "
        f"settings of this run:\n\n{settings}\n"
    )
    (out / "README.md").write_text(text, encoding="utf-8")
    return out / "README.md"


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
