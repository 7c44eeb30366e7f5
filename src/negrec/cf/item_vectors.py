"""Item vectors learned from behaviour for `embedding:K` interest clusters: MF item factors trained with BPR and
uniform negatives on histories (each history a user), so two items are near when the same users have them."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from typing import Callable

from negrec.data.catalog import Catalog
from negrec.data.interactions import Interactions
from negrec.sampling.clusters import ClusterDefinition, clustered_catalog, kmeans_labels

VECTOR_DIM, VECTOR_EPOCHS = 32, 20


def cf_item_vectors(histories: sp.csr_matrix, seed: int) -> np.ndarray:
    """(n_items, 32) item factors of MF (no biases) trained for 20 epochs on the history × item matrix."""
    from negrec.cf.trainer import TrainConfig, train
    from negrec.sampling.registry import parse_sampler

    matrix = sp.csr_matrix(histories, dtype=np.float32)
    matrix.data[:] = 1.0
    inter = Interactions(matrix=matrix, user_ids=np.arange(matrix.shape[0]))
    config = TrainConfig(model="mf-nobias", dim=VECTOR_DIM, epochs=VECTOR_EPOCHS, seed=seed)
    model = train(inter, parse_sampler("uniform"), config).model
    return model.item.weight.detach().numpy().astype(np.float64)


def clusters_catalog(
    definition: ClusterDefinition, catalog: Catalog, histories: sp.csr_matrix | Callable[[], sp.csr_matrix], seed: int
) -> Catalog:
    """The catalog a definition annotates and samples with: `genres:K` the catalog itself, `embedding:K` its items'
    k-means clusters of `cf_item_vectors(histories)` as their genres (`histories`: a history × item matrix, or a
    function making it, called only for embedding clusters). The one place that tells the two kinds apart."""
    if definition.kind == "genres":
        return catalog
    definition.check_items(catalog.n_items)  # before the vectors are trained
    matrix = histories() if callable(histories) else histories
    return clustered_catalog(catalog, kmeans_labels(cf_item_vectors(matrix, seed), definition.k, seed))
