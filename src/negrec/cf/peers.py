"""The field's reference recommenders as rows of a comparison, from the libraries that implement them — cornac's EASE,
implicit's ALS and cosine item-KNN — behind negrec's `Recommender` interface (`pip install negrec[peers]`). Their settings are
the libraries' defaults unless given; `PEER_SPACES` are their search spaces (`cf compare --peer-trials`, and
`benchmarks/cf_quality.py`, tune them on validation)."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, Callable

import numpy as np

from negrec.data.interactions import Interactions
from negrec.data.io import write_bytes
from negrec.recommender import Recommender


def _needs(module: str, peer: str) -> None:
    """A clear error naming the package a peer needs, before any data is read."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ValueError(f"the peer {peer!r} needs the {module} package: pip install 'negrec[peers]'")


class PickledRecommender(Recommender):
    """A peer saved as a pickle of itself (the libraries' models pickle whole)."""

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        write_bytes(folder / "peer.pkl", pickle.dumps(self))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "Recommender":
        with open(Path(folder) / "peer.pkl", "rb") as fh:
            return pickle.load(fh)  # noqa: S301 — a file this class wrote


class CornacPeer(PickledRecommender):
    """A cornac model fitted on the training positives; its `score` rows mapped back to negrec's item indices (items
    cornac never saw score −inf)."""

    def __init__(self, model: str, seed: int = 0, params: dict | None = None):
        self.model_name, self.seed = model, seed  # a class name of cornac.models (a name pickles; a factory may not)
        self.params = dict(params or {})

    def fit(self, train: Interactions, *, valid: Interactions | None = None) -> "CornacPeer":
        import cornac

        triples = [(str(u), str(i), 1.0) for u, i in zip(train.entry_users().tolist(), train.matrix.indices.tolist())]
        self.data = cornac.data.Dataset.from_uir(triples, seed=self.seed)
        self.model = getattr(cornac.models, self.model_name)(seed=self.seed, verbose=False, **self.params)
        self.model.fit(self.data)
        self.n_items = train.n_items
        self.cols = np.fromiter((int(raw) for raw in self.data.iid_map), dtype=np.int64)
        self.inner = np.fromiter(self.data.iid_map.values(), dtype=np.int64)
        return self

    def score(self, users: np.ndarray) -> np.ndarray:
        out = np.full((len(users), self.n_items), -np.inf)
        for row, u in enumerate(np.asarray(users).tolist()):
            inner = self.data.uid_map.get(str(u))
            if inner is not None:  # a user with no training positive: every item −inf, as for unseen items
                out[row, self.cols] = np.ravel(self.model.score(inner))[self.inner]
        return out


class ImplicitALS(PickledRecommender):
    """implicit's alternating least squares (CPU) on the user × item matrix of training positives."""

    def __init__(self, seed: int = 0, threads: int = 0, params: dict | None = None):
        self.seed, self.threads, self.params = seed, threads, dict(params or {})

    def fit(self, train: Interactions, *, valid: Interactions | None = None) -> "ImplicitALS":
        from implicit.cpu.als import AlternatingLeastSquares

        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, "blas"):  # implicit runs its own threads; a BLAS pool beside them only competes
            self.model = AlternatingLeastSquares(random_state=self.seed, num_threads=self.threads, **self.params)
            self.model.fit(train.binary().astype(np.float32).tocsr(), show_progress=False)
        return self

    def score(self, users: np.ndarray) -> np.ndarray:
        return self.model.user_factors[np.asarray(users)] @ self.model.item_factors.T


# name → (row name, package, factory of (seed, settings; {} = the library's defaults))
PEERS: dict[str, tuple[str, str, Callable[[int, dict], Recommender]]] = {
    "ease": ("cornac EASE", "cornac", lambda seed, params: CornacPeer("EASE", seed, params)),
    "itemknn": ("implicit ItemKNN", "implicit", lambda seed, params: ImplicitItemKNN(**params)),
    "als": ("implicit ALS", "implicit", lambda seed, params: ImplicitALS(seed, params=params)),
}
# each peer's search space (an Optuna trial → its settings): EASE's L2 weight and positivity constraint; item-KNN's
# neighbours; ALS's size, regularisation, confidence weight and sweeps
PEER_SPACES: dict[str, Callable[[Any], dict]] = {
    "ease": lambda t: {
        "lamb": t.suggest_float("lamb", 1.0, 5000.0, log=True),
        "posB": t.suggest_categorical("posB", [True, False]),
    },
    "itemknn": lambda t: {"neighbours": t.suggest_int("neighbours", 10, 500, log=True)},
    "als": lambda t: {
        "factors": t.suggest_categorical("factors", [32, 64, 128]),
        "regularization": t.suggest_float("regularization", 1e-3, 10, log=True),
        "alpha": t.suggest_float("alpha", 0.1, 50, log=True),
        "iterations": t.suggest_int("iterations", 5, 30),
    },
}


class ImplicitItemKNN(PickledRecommender):
    """implicit's cosine item-KNN for implicit feedback: a user's score of an item is the sum of its cosine
    similarities (top K neighbours) to the user's training items (cornac's ItemKNN averages rated neighbours, which
    is constant on 0/1 data)."""

    def __init__(self, neighbours: int = 100):
        self.neighbours = neighbours

    def fit(self, train: Interactions, *, valid: Interactions | None = None) -> "ImplicitItemKNN":
        from implicit.nearest_neighbours import CosineRecommender

        import warnings

        from implicit.utils import ParameterWarning

        self.known = train.binary().astype(np.float32).tocsr()
        self.model = CosineRecommender(K=self.neighbours)
        with warnings.catch_warnings():  # implicit converts its own weighting's COO matrix and warns about itself
            warnings.simplefilter("ignore", ParameterWarning)
            self.model.fit(self.known, show_progress=False)
        return self

    def score(self, users: np.ndarray) -> np.ndarray:
        return np.asarray((self.known[np.asarray(users)] @ self.model.similarity).todense())


def check_peers(names: list[str]) -> None:
    """Peer names known and their libraries installed, before any data is read."""
    unknown = [n for n in names if n not in PEERS]
    if unknown:
        raise ValueError(f"--peers: unknown {', '.join(map(repr, unknown))}; choose from {', '.join(PEERS)}")
    for name in names:
        _needs(PEERS[name][1], name)


def build_peer(name: str, seed: int = 0, params: dict | None = None) -> Recommender:
    """One peer with these settings (None: the library's defaults)."""
    check_peers([name])
    return PEERS[name][2](seed, dict(params or {}))


def make_peers(names: list[str], seed: int = 0) -> dict[str, Recommender]:
    """{row name: recommender} for peer names such as ['ease', 'itemknn', 'als'] with the libraries' defaults, each
    library checked up front."""
    check_peers(names)
    return {PEERS[name][0]: build_peer(name, seed) for name in dict.fromkeys(names)}
