"""Interest clusters as an option: `genres:K` (a user's top-K genres of their history, the seed's with K = 3) or
`embedding:K` (k-means, seeded, of item vectors into K clusters; a user's cluster = the clusters of their history
items, top 3 by count, first seen wins). An embedding definition is a catalog whose "genres" are the clusters, so every
cluster-aware part (annotation, the nine strategies, CF's cluster samplers) reads it unchanged."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, Sequence

import numpy as np
import scipy.sparse as sp

from negrec.data.catalog import Catalog, genre_matrix

EMBEDDING_TOP = 3  # clusters per user for embedding definitions (as the seed's three genres)


@dataclass(frozen=True)
class ClusterDefinition:
    """How interest clusters are formed: `kind` genres (top `k` genres per user) or embedding (`k` k-means clusters
    of item vectors, the top `top` of them per user)."""

    kind: Literal["genres", "embedding"]
    k: int
    top: int = EMBEDDING_TOP

    @property
    def spec(self) -> str:
        return f"{self.kind}:{self.k}"

    def check_items(self, n_items: int) -> None:
        """Refuse more embedding clusters than items, before any work (the item count is known once data loads)."""
        if self.kind == "embedding" and self.k > n_items:
            raise ValueError(f"clusters {self.spec}: more clusters than the {n_items} items of the catalogue")

    @property
    def user_top(self) -> int:
        """How many clusters form one user's interest cluster."""
        return self.k if self.kind == "genres" else self.top


def parse_clusters(spec: str) -> ClusterDefinition:
    """`genres:K` or `embedding:K` (K ≥ 1; embedding: K ≥ 2) → its definition; anything else is refused naming it."""
    kind, _, number = str(spec).partition(":")
    if (
        kind not in ("genres", "embedding")
        or not (number.isascii() and number.isdigit())
        or int(number) < (1 if kind == "genres" else 2)
    ):
        raise ValueError(f"clusters must be genres:K (K ≥ 1) or embedding:K (K ≥ 2 k-means clusters), got {spec!r}")
    return ClusterDefinition(kind, int(number))  # type: ignore[arg-type]


def kmeans_labels(vectors: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Each row's cluster among `k` (scikit-learn's k-means, seeded; rows L2-normalised so that clusters follow
    directions, as dot-product models score)."""
    from sklearn.cluster import KMeans

    ClusterDefinition("embedding", k).check_items(len(vectors))
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms > 0, norms, 1.0)
    return KMeans(n_clusters=k, random_state=seed, n_init=10).fit_predict(unit).astype(np.int64)


def clustered_catalog(catalog: Catalog, labels: np.ndarray) -> Catalog:
    """`catalog` with each item's genres replaced by its one cluster (`cluster-<j>`): the catalog an embedding
    definition annotates and samples with. Fairness metrics still read the original catalog."""
    names = [f"cluster-{j}" for j in range(int(labels.max()) + 1)]
    listed = [[names[j]] for j in labels.tolist()]
    matrix, names = genre_matrix(listed, names)
    return replace(catalog, genres=matrix, genre_names=names, fairness_genres=None, source_genres=listed)


def history_matrix(histories: Sequence[Sequence[str]], catalog: Catalog) -> sp.csr_matrix:
    """History × item 0/1 matrix of title histories (titles outside the catalog skipped)."""
    items = catalog.lookup_many([t for h in histories for t in h])
    rows = np.repeat(np.arange(len(histories)), [len(h) for h in histories])
    keep = items >= 0
    matrix = sp.csr_matrix((np.ones(int(keep.sum())), (rows[keep], items[keep])), shape=(len(histories), catalog.n_items))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix
