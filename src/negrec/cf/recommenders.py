"""The CF recommenders behind the one interface (`negrec.recommender.Recommender`).

`TrainedRecommender` wraps MF and LightGCN trained with a negative sampler (the popularity reference,
`MostPopRecommender`, lives in `cf/baselines.py`). Both score every item for a batch of users and share `recommend`
(top-K of the scores, ties by lower item id, excluded items never returned). Run folders (`experiments.cf.save_run`) store a
`TrainedRecommender` with `save` and read it back with `load`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import scipy.sparse as sp
import torch

from negrec.cf.trainer import TrainConfig, TrainResult, build_model, train
from negrec.data.catalog import Catalog
from negrec.data.indices import index_array
from negrec.data.interactions import Interactions
from negrec.data.io import read_json, save_torch, write_json
from negrec.errors import DataError
from negrec.recommender import Recommender
from negrec.sampling.registry import as_config, parse_sampler
from negrec.sampling.spec import SamplerConfig


class TrainedRecommender(Recommender):
    """MF or LightGCN (per `config.model`) trained with the negatives of `sampler` (a spec such as 'dns:3', parsed
    here, or a `SamplerConfig`)."""

    def __init__(
        self, config: TrainConfig = TrainConfig(), sampler: str | SamplerConfig = "uniform", catalog: Catalog | None = None
    ):
        # a malformed spec or a sampler the model / loss cannot use is refused before any training
        self.sampler = as_config(sampler)
        self.config, self.catalog = config.for_sampler(self.sampler), catalog
        self.model: torch.nn.Module | None = None
        self.train_matrix: sp.csr_matrix | None = None
        self.result: TrainResult | None = None

    @classmethod
    def from_result(
        cls, result: TrainResult, train: Interactions, config: TrainConfig, sampler: SamplerConfig
    ) -> "TrainedRecommender":
        """Wrap a model `cf.trainer.train` already trained on `train`."""
        rec = cls(config, sampler)
        rec.model, rec.train_matrix, rec.result = result.model, train.binary(), result
        return rec

    def fit(self, train: Interactions, *, valid: Interactions | None = None) -> "TrainedRecommender":
        self.result = train_model(train, self.sampler, self.config, valid=valid, catalog=self.catalog)
        self.model, self.train_matrix = self.result.model, train.binary()
        return self

    def _fitted(self) -> torch.nn.Module:
        if self.model is None:
            raise RuntimeError("fit or load the recommender first")
        return self.model

    def score(self, users: np.ndarray) -> np.ndarray:
        model = self._fitted()
        users = index_array(users, self.train_matrix.shape[0], "users")  # the users the model was trained on
        model.eval()
        with torch.no_grad():
            return model.full_scores(torch.as_tensor(np.asarray(users), dtype=torch.long)).numpy()

    def save(self, folder: str | Path) -> Path:
        """model.pt, train.npz (LightGCN's graph, and the shape of both models) and model.json (settings)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_torch(self._fitted().state_dict(), folder / "model.pt")
        sp.save_npz(folder / "train.npz", self.train_matrix)
        write_json(folder / "model.json", {"kind": "trained", "sampler": self.sampler.name, "train": self.config.as_dict()})
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "TrainedRecommender":
        folder = Path(folder)
        meta = read_json(folder / "model.json")
        try:
            rec = cls(TrainConfig(**meta["train"]), parse_sampler(meta["sampler"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"not a negrec model description ({exc})", path=folder / "model.json") from None
        try:
            rec.train_matrix = sp.load_npz(folder / "train.npz").tocsr()
        except (OSError, ValueError) as exc:
            raise DataError(f"unreadable ({exc})", path=folder / "train.npz") from None
        # SparseAdam only changes how MF's embeddings are updated, never their layout
        model = build_model(replace(rec.config, optimizer="adam"), rec.train_matrix, torch.Generator().manual_seed(0))
        try:
            model.load_state_dict(torch.load(folder / "model.pt", weights_only=True))
        except FileNotFoundError:
            raise DataError("file not found", path=folder / "model.pt") from None
        except Exception as exc:  # torch raises several unrelated types for a damaged or foreign file
            raise DataError(f"not the weights of this model ({type(exc).__name__})", path=folder / "model.pt") from None
        rec.model = model
        return rec


def train_model(
    train_part: Interactions,
    sampler: SamplerConfig,
    config: TrainConfig,
    *,
    valid: Interactions | None = None,
    catalog: Catalog | None = None,
    log: Callable[[str], None] | None = None,
    restore_best: bool = True,
) -> TrainResult:
    """`cf.trainer.train`; the catalog is passed on only when it has genres (cluster strategies)."""
    catalog = catalog if catalog is not None and catalog.has_genres else None
    return train(train_part, sampler, config, valid=valid, catalog=catalog, log=log, restore_best=restore_best)
