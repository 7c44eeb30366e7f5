"""Candidate generation and prediction over Goodreads-style records (chunk functions for `runs`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

from negrec.data.catalog import Catalog
from negrec.data.titles import parse_target, parse_title_list
from negrec.sampling.profiles import cluster_ids
from negrec.llm.generate import BeamConfig, beam_titles, candidate_string, filter_candidates, greedy_texts, sample_texts
from negrec.data.prompts import render
from negrec.llm.trie import TitleTrie, completion_tokens

Method = Literal["beam", "diverse", "sample"]


def build_trie(tokenizer, catalog: Catalog, template: str = "train") -> TitleTrie:
    """Trie of every catalog title tokenised as it follows a prompt of `template`."""
    probe = render("Recommend.", '"A", "B"', template)
    return TitleTrie.build(completion_tokens(tokenizer, probe, catalog.require_titles("constrained decoding")), len(tokenizer))


@dataclass
class CandidateSettings:
    """Candidate generation: method, counts and the seed's sampling schedule (docs/seed-method.md §2.3–2.4)."""

    method: Method = "diverse"
    n: int = 10
    groups: int = 10
    diversity_penalty: float = 1.0
    batch_size: int = 8
    max_new_tokens: int = 64
    sample_round: int = 10  # sampling: candidates drawn per round until one is in the user's cluster
    sample_cap: int = 40
    top_k: int = 50
    seed: int = 0
    template: str = "train"

    def __post_init__(self) -> None:
        """Refuse counts no generation can use (e.g. 0 titles, which would loop forever) before any model loads."""
        for name in ("n", "groups", "batch_size", "max_new_tokens", "sample_round", "sample_cap", "top_k"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be ≥ 1, got {getattr(self, name)}")
        if not (self.diversity_penalty >= 0 and self.diversity_penalty < float("inf")):
            raise ValueError(f"--penalty must be a finite number ≥ 0, got {self.diversity_penalty}")


def check_title_tokens(model_dir, catalog: Catalog) -> None:
    """A title-token model knows the titles of the catalog it was built on: refuse another catalog, whose titles it
    would write as fragments."""
    from pathlib import Path

    from negrec.data.io import read_json
    from negrec.errors import DataError
    from negrec.llm.titletok import TITLE_TABLE

    table = Path(model_dir) / TITLE_TABLE
    if not table.is_file():
        return
    known, given = read_json(table)["titles"], catalog.require_titles("a title-token model")
    missing, extra = [t for t in given if t not in set(known)], [t for t in known if t not in set(given)]
    if missing or extra:
        first = f"first missing: {missing[0]!r}" if missing else f"first unknown to the catalog: {extra[0]!r}"
        raise DataError(
            f"its title tokens were built on another catalog: {len(missing)} of the catalog's {len(given)} titles "
            f"are not among its {len(known)} ({first}); use the model built on this catalog",
            path=model_dir,
        )


def check_title_count(n: int, catalog: Catalog, option: str = "--n") -> None:
    """More distinct titles per prompt than the catalog holds can never be found: refuse instead of searching."""
    if n > catalog.n_items:
        raise ValueError(f"{option} {n} is more than the {catalog.n_items} titles in the catalog")


def candidates_fn(model, tokenizer, catalog: Catalog, settings: CandidateSettings, trie: TitleTrie | None):
    """A chunk function writing the seed's candidates format `{prompt, chosen, rejected: [...]}`."""
    import torch

    def run(records: Sequence[dict], chunk: int) -> list[dict]:
        prompts = [render(r["instruction"], r["input"], settings.template) for r in records]
        texts: list[list[str]] = []
        for start in range(0, len(records), settings.batch_size):
            batch = prompts[start : start + settings.batch_size]
            if settings.method == "sample":
                gen = torch.Generator().manual_seed(settings.seed * 1_000_003 + chunk * 1009 + start)
                texts += _sample_until_in_cluster(
                    model, tokenizer, catalog, records[start : start + settings.batch_size], batch, settings, gen, trie
                )
            else:
                diverse = settings.method == "diverse"
                config = BeamConfig(
                    n_return=settings.n,
                    beams_per_group=2 if diverse else settings.n,
                    groups=settings.groups if diverse else 1,
                    diversity_penalty=settings.diversity_penalty if diverse else 0.0,
                    max_new_tokens=settings.max_new_tokens,
                    constrained=trie is not None,
                )
                texts += beam_titles(model, tokenizer, batch, trie, config)
        out = []
        for rec, prompt, generated in zip(records, prompts, texts):
            cands = [c for c in (candidate_string(t) for t in generated) if c]
            out.append(
                {
                    "prompt": prompt,
                    "chosen": rec["output"].strip(),
                    "rejected": filter_candidates(cands, rec["output"], parse_title_list(rec["input"])),
                }
            )
        return out

    return run


def _sample_until_in_cluster(model, tokenizer, catalog, records, prompts, settings, generator, trie) -> list[list[str]]:
    """Top-k samples in rounds of `sample_round` until a record has an in-cluster candidate (at most `sample_cap`)."""
    clusters = [set(row[row >= 0].tolist()) for row in cluster_ids([parse_title_list(r["input"]) for r in records], catalog)]
    genres = catalog.require_genres("sampling candidates")
    found: list[list[str]] = [[] for _ in records]
    done = np.zeros(len(records), dtype=bool)
    while not done.all():
        todo = np.flatnonzero(~done)
        rounds = sample_texts(
            model,
            tokenizer,
            [prompts[i] for i in todo],
            settings.sample_round,
            top_k=settings.top_k,
            max_new_tokens=settings.max_new_tokens,
            generator=generator,
            trie=trie,
        )
        for i, texts in zip(todo.tolist(), rounds):
            found[i] += texts
            for text in texts:
                cand = candidate_string(text)
                item = catalog.lookup(parse_target(cand)) if cand else -1
                if item >= 0 and clusters[i] & set(genres.indices[genres.indptr[item] : genres.indptr[item + 1]].tolist()):
                    done[i] = True
                    break
            done[i] |= len(found[i]) >= settings.sample_cap
    return found


def predict_fn(
    model,
    tokenizer,
    *,
    mode: Literal["greedy", "beams"] = "greedy",
    k: int = 10,
    batch_size: int = 8,
    max_new_tokens: int = 50,
    template: str = "train",
    trie: TitleTrie | None = None,
    exclude_history: bool = False,
    catalog: Catalog | None = None,
):
    """A chunk function writing the seed's prediction format (+ `beams`, the K constrained titles, in beams mode).
    `exclude_history` (beams mode): search K + (longest history) beams and drop titles the user already has,
    so the list holds K unseen titles when the search finds them. With `catalog`, a beam the length limit cut off
    before its title ended (a prefix such as `"S`) is dropped rather than ranked."""

    def run(records: Sequence[dict], chunk: int) -> list[dict]:
        prompts = [render(r["instruction"], r["input"], template) for r in records]
        out = []
        for start in range(0, len(records), batch_size):
            batch = prompts[start : start + batch_size]
            recs = records[start : start + batch_size]
            if mode == "greedy":
                preds, beams = greedy_texts(model, tokenizer, batch, max_new_tokens), [None] * len(batch)
            else:
                seen = [set(parse_title_list(r["input"])) if exclude_history else set() for r in recs]
                width = k + max(len(s) for s in seen)
                found = beam_titles(
                    model,
                    tokenizer,
                    batch,
                    trie,
                    BeamConfig(
                        n_return=width, beams_per_group=width, groups=1, diversity_penalty=0.0, max_new_tokens=max_new_tokens
                    ),
                )
                finished = [[t for t in titles if catalog is None or catalog.lookup(parse_target(t)) >= 0] for titles in found]
                beams = [[t for t in titles if parse_target(t) not in s][:k] for titles, s in zip(finished, seen)]
                preds = [b[0] if b else "" for b in beams]
            out.extend(prediction_row(rec, prompt, pred, beam) for rec, prompt, pred, beam in zip(recs, batch, preds, beams))
        return out

    return run


def prediction_row(rec: dict, prompt: str, prediction: str, beam: list[str] | None) -> dict:
    """One record of the seed's prediction format (+ `beams` when the prediction is a ranked title list)."""
    row = {"prompt": prompt, "prediction": prediction, "ground_truth": parse_target(rec["output"])}
    if beam is not None:
        row["beams"] = beam
    return row
