"""A title-token LLM behind the recommender interface (`fit / score / recommend / save / load`).

`fit` turns each user's training items (in time order) into the seed's next-item records, builds a tiny
title-token model on them and SFTs it; a user's prompt is then their latest `max_history` training items, and
`score` is the log-probability of every catalog title as the answer — one forward pass per batch, because a title
is one token. This is the LLM predictor a CF protocol can evaluate next to MF, LightGCN and MostPop.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path

import numpy as np

from negrec.recommender import Recommender
from negrec.data.catalog import Catalog
from negrec.data.interactions import Interactions
from negrec.data.io import read_json, write_json
from negrec.data.synthetic import INPUT_PREFIX, INPUT_SUFFIX, INSTRUCTION
from negrec.data.titles import quote
from negrec.data.prompts import render
from negrec.llm.settings import StageSettings, stage_settings
from negrec.llm.tiny import TinyConfig


def history_input(titles: list[str], items: np.ndarray) -> str:
    """The seed's record input for a history of items."""
    return INPUT_PREFIX + ", ".join(quote(titles[i]) for i in items) + INPUT_SUFFIX


def next_item_records(timelines: list[np.ndarray], titles: list[str], max_history: int) -> list[dict]:
    """One record per position p ≥ 1 of every timeline: the ≤ max_history items before it → the item at p."""
    return [
        {
            "instruction": INSTRUCTION,
            "input": history_input(titles, items[max(0, p - max_history) : p]),
            "output": quote(titles[items[p]]) + "\n",
        }
        for items in timelines
        for p in range(1, len(items))
    ]


class TitleTokenRecommender(Recommender):
    """A tiny title-token Llama SFT'd on the users' next-item records (see the module docstring)."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        tiny: TinyConfig = TinyConfig(titles="tokens", vocab_size=512),
        settings: StageSettings | None = None,
        max_history: int = 10,
    ):
        if tiny.titles != "tokens":
            raise ValueError("TitleTokenRecommender needs a title-token model (TinyConfig(titles='tokens'))")
        self.titles = catalog.require_titles("an LLM recommender")
        self.tiny, self.max_history = tiny, max_history
        self.settings = settings or stage_settings("sft", {"template": "compact", "lr": 3e-3, "epochs": 10})
        self.model = self.tokenizer = None
        self.model_dir: Path | None = None
        self.histories: list[list[int]] = []

    def fit(self, train: Interactions, *, valid: Interactions | None = None) -> "TitleTokenRecommender":
        from negrec.llm.tiny import init_tiny
        from negrec.llm.train import sft

        timelines = train.timelines()
        records = next_item_records(timelines, self.titles, self.max_history)
        work = Path(tempfile.mkdtemp(prefix="negrec-llm-rec-"))
        # the fitted model lives here until `save` copies it: removed with the recommender (or at interpreter exit)
        self._work = weakref.finalize(self, shutil.rmtree, work, True)
        init_tiny(records, self.titles, work / "init", self.tiny)
        self._use(sft(work / "init", records, work / "sft", self.settings), [t[-self.max_history :].tolist() for t in timelines])
        return self

    def _use(self, model_dir: Path, histories: list[list[int]]) -> None:
        from negrec.llm.models import load_model

        self.model_dir, self.histories = Path(model_dir), histories
        self.model, self.tokenizer = load_model(model_dir)
        self.title_ids = np.asarray(self.tokenizer.convert_tokens_to_ids([quote(t) for t in self.titles]), dtype=np.int64)

    def score(self, users: np.ndarray, batch: int = 64) -> np.ndarray:
        """log p(title | the user's prompt and the answer's opening token) for every catalog title."""
        import torch

        if self.model is None:
            raise RuntimeError("fit or load the recommender first")
        # the answer opens with the same token for every title (a newline); it is part of the prompt here
        opening = self.tokenizer("\n", add_special_tokens=False)["input_ids"]
        rows = []
        for start in range(0, len(users), batch):
            prompts = [
                render(
                    INSTRUCTION, history_input(self.titles, np.asarray(self.histories[u], dtype=np.int64)), self.settings.template
                )
                for u in np.asarray(users)[start : start + batch]
            ]
            enc = self.tokenizer(prompts, return_tensors="pt", padding=True)
            extra = torch.tensor(opening).repeat(len(prompts), 1)
            ids = torch.cat([enc["input_ids"], extra], 1)
            mask = torch.cat([enc["attention_mask"], torch.ones_like(extra)], 1)
            positions = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding: positions count real tokens
            with torch.no_grad():
                logits = self.model(input_ids=ids, attention_mask=mask, position_ids=positions).logits[:, -1].float()
            rows.append(logits.log_softmax(-1)[:, torch.as_tensor(self.title_ids)].numpy())
        return np.vstack(rows) if rows else np.zeros((0, len(self.titles)))

    def save(self, folder: str | Path) -> Path:
        """The SFT'd model (a Hugging Face folder under `model/`) and each user's prompt history."""
        if self.model_dir is None:
            raise RuntimeError("fit or load the recommender first")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copytree(
            self.model_dir,
            folder / "model",
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("checkpoint-*", "log.jsonl", "*.png"),
        )
        write_json(
            folder / "model.json",
            {
                "kind": "title-token-llm",
                "template": self.settings.template,
                "max_history": self.max_history,
                "titles": self.titles,
                "histories": self.histories,
            },
        )
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "TitleTokenRecommender":
        folder = Path(folder)
        meta = read_json(folder / "model.json")
        rec = cls(
            Catalog(item_ids=np.arange(len(meta["titles"])), titles=meta["titles"]),
            max_history=meta["max_history"],
            settings=stage_settings("sft", {"template": meta["template"]}),
        )
        rec._use(folder / "model", meta["histories"])
        return rec
