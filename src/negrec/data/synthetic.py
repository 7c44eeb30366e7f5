"""The embedded default: a seeded synthetic book catalog with series, genres and users with interest clusters."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from negrec.data.catalog import Catalog, genre_matrix
from negrec.data.interactions import Interactions
from negrec.data.io import write_json, write_text
from negrec.data.sequences import Sequences
from negrec.data.titles import quote

GENRES = [
    "fantasy",
    "romance",
    "mystery",
    "science fiction",
    "historical",
    "young-adult",
    "horror",
    "biography",
    "poetry",
    "children",
    "thriller",
    "humor",
]
ADJECTIVES = (
    "Silent Crimson Hidden Broken Golden Last Burning Frozen Wild Distant Hollow Iron Quiet Scarlet Lost Bright "
    "Shattered Ancient Velvet Midnight Silver Stolen Winter Wandering Fallen Secret Endless Painted Bitter Gentle "
    "Restless Emerald Forgotten Northern Savage Sleeping Copper Radiant Drowned Hungry Paper Glass Crooked Little "
    "Borrowed Salt Ashen Lonely"
).split()
NOUNS = (
    "Harbor Oath Crown Garden Letter River Empire Lantern Orchard Mirror Shadow Kingdom Tide Compass Feather Bridge "
    "Tower Archive Storm Orbit Meadow Promise Engine Forest Island Signal Dagger Sparrow Library Ember Glacier Circus "
    "Mountain Throne Whisper Voyage Station Harvest Labyrinth Cathedral Serpent Canyon Festival Lighthouse Wolf "
    "Prophecy Atlas Desert"
).split()
SERIES_KINDS = "Chronicles Saga Cycle Trilogy Quartet Sequence Legacy Files Mysteries Adventures".split()

INSTRUCTION = "Given a list of books the user recently enjoys, please recommend a new books that the user may like"
INPUT_PREFIX = "The user has played the following books before: "
INPUT_SUFFIX = ", please write a new books that the user may bought"


@dataclass(frozen=True)
class SyntheticConfig:
    """Sizes and behaviour of the synthetic dataset; the defaults keep every demo fast on 2 cores."""

    n_users: int = 600
    n_items: int = 500
    n_genres: int = 8
    n_fairness_genres: int = 7
    min_length: int = 14
    max_length: int = 36
    series_share: float = 0.55  # probability that a new title starts a series (of 2..max_series_length)
    max_series_length: int = 5
    popularity_exponent: float = 1.1  # Zipf exponent of series popularity (long tail)
    cluster_size: int = 3  # genres in a user's interest cluster
    out_of_cluster_weight: float = 0.04  # relative appeal of items outside the cluster
    continue_series: float = 0.45  # probability of reading the next volume of a series in progress
    max_history: int = 10
    train_records_per_user: int = 2
    seed: int = 0


@dataclass(frozen=True, eq=False)
class SyntheticData:
    """The generated dataset in every form the project uses."""

    config: SyntheticConfig
    catalog: Catalog
    interactions: Interactions
    user_clusters: list[list[str]]
    series_of: np.ndarray  # series index per item
    volume_of: np.ndarray  # 1-based volume per item (1 for standalone titles)
    sequences: dict[str, Sequences] = field(default_factory=dict)
    records: dict[str, list[dict]] = field(default_factory=dict)


def _names(rng: np.random.Generator, n: int) -> list[str]:
    """n distinct book names from word combinations, in a seeded order."""
    names = [f"{a} {b}" for a in ADJECTIVES for b in NOUNS]
    if n > len(names):
        names += [f"The {a} {b} of the {c}" for a in ADJECTIVES for b in NOUNS for c in NOUNS if b != c]
    if n > len(names):
        raise ValueError(f"at most {len(names)} synthetic titles are supported, asked for {n}")
    return [names[i] for i in rng.permutation(len(names))[:n]]


def _build_catalog(cfg: SyntheticConfig, rng: np.random.Generator) -> tuple[Catalog, np.ndarray, np.ndarray, np.ndarray]:
    genre_names = GENRES[: cfg.n_genres]
    genre_size = 1.0 / np.arange(1, cfg.n_genres + 1) ** 0.7  # some genres are bigger than others
    genre_size /= genre_size.sum()
    lengths = []
    while sum(lengths) < cfg.n_items:
        starts_series = rng.random() < cfg.series_share
        lengths.append(int(rng.integers(2, cfg.max_series_length + 1)) if starts_series else 1)
    lengths[-1] -= sum(lengths) - cfg.n_items
    lengths = [n for n in lengths if n > 0]
    names = _names(rng, cfg.n_items)
    kinds = rng.integers(0, len(SERIES_KINDS), size=len(lengths))
    series_nouns = rng.permutation(len(NOUNS) * len(ADJECTIVES))
    titles, genre_lists, series_of, volume_of = [], [], [], []
    for s, n in enumerate(lengths):
        primary = int(rng.choice(cfg.n_genres, p=genre_size))
        extra = rng.choice(cfg.n_genres, size=int(rng.integers(1, 3)), replace=False, p=genre_size)
        genres = [genre_names[primary]] + [genre_names[g] for g in extra if g != primary]
        combo = int(series_nouns[s % len(series_nouns)])
        series_name = f"The {NOUNS[combo % len(NOUNS)]} {SERIES_KINDS[kinds[s]]}"
        for k in range(1, n + 1):
            name = names[len(titles)]
            titles.append(f"{name} ({series_name}, #{k})" if n > 1 else name)
            genre_lists.append(genres)
            series_of.append(s)
            volume_of.append(k)
    genres, gnames = genre_matrix(genre_lists, genre_names)
    catalog = Catalog(
        item_ids=np.arange(cfg.n_items),
        titles=titles,
        genres=genres,
        genre_names=gnames,
        fairness_genres=genre_names[: cfg.n_fairness_genres],
        name="synthetic",
    )
    # long-tail popularity: Zipf over a random series order, later volumes less read
    series_rank = rng.permutation(len(lengths)) + 1
    popularity = (1.0 / series_rank**cfg.popularity_exponent)[series_of] * 0.75 ** (np.asarray(volume_of) - 1)
    return catalog, np.asarray(series_of), np.asarray(volume_of), popularity / popularity.sum()


def _user_timeline(
    cfg: SyntheticConfig,
    rng: np.random.Generator,
    appeal: np.ndarray,
    volume_of: np.ndarray,
    next_volume: np.ndarray,
) -> list[int]:
    """One user's reading order: continue a series in progress, else draw by popularity × cluster appeal."""
    length = int(rng.integers(cfg.min_length, cfg.max_length + 1))
    weights = appeal.copy()
    weights[volume_of > 1] *= 0.15  # series are mostly started at volume 1
    read: list[int] = []
    open_series: list[int] = []  # items that would continue a series the user is reading
    for _ in range(min(length, len(appeal))):
        if open_series and rng.random() < cfg.continue_series:
            item = open_series.pop(int(rng.integers(len(open_series))))
        else:
            cdf = np.cumsum(weights)
            item = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
            item = min(item, len(weights) - 1)
        if weights[item] == 0:  # already read (reachable through open_series); skip it
            continue
        read.append(item)
        weights[item] = 0.0
        open_series = [i for i in open_series if i != item]
        nxt = next_volume[item]
        if nxt >= 0 and weights[nxt] > 0:
            open_series.append(int(nxt))
    return read


def generate(config: SyntheticConfig | None = None) -> SyntheticData:
    """Generate the synthetic dataset deterministically from `config.seed`."""
    cfg = config or SyntheticConfig()
    rng = np.random.default_rng(cfg.seed)
    catalog, series_of, volume_of, popularity = _build_catalog(cfg, rng)
    next_volume = np.full(cfg.n_items, -1)
    same = series_of[1:] == series_of[:-1]
    next_volume[:-1][same] = np.arange(1, cfg.n_items)[same]
    genres = catalog.genres.toarray() > 0
    genre_share = genres.sum(0) / genres.sum()
    users, items, stamps, ratings, clusters = [], [], [], [], []
    for u in range(cfg.n_users):
        cluster = rng.choice(cfg.n_genres, size=cfg.cluster_size, replace=False, p=genre_share)
        in_cluster = genres[:, cluster].any(axis=1)
        appeal = popularity * np.where(in_cluster, 1.0, cfg.out_of_cluster_weight)
        timeline = _user_timeline(cfg, rng, appeal, volume_of, next_volume)
        start = 1_600_000_000 + int(rng.integers(0, 86_400 * 365))
        users += [u] * len(timeline)
        items += timeline
        stamps += [start + 86_400 * k for k in range(len(timeline))]
        mean = np.where(in_cluster[timeline], 4.2, 3.0)
        ratings += np.clip(np.rint(rng.normal(mean, 0.8)), 1, 5).tolist()
        clusters.append([catalog.genre_names[g] for g in cluster])
    inter = Interactions.from_arrays(
        np.asarray(users),
        np.asarray(items),
        n_users=cfg.n_users,
        n_items=cfg.n_items,
        ratings=np.asarray(ratings),
        timestamps=np.asarray(stamps),
    )
    data = SyntheticData(cfg, catalog, inter, clusters, series_of, volume_of)
    _add_sequences(data, np.asarray(users), np.asarray(items))
    return data


def _add_sequences(data: SyntheticData, users: np.ndarray, items: np.ndarray) -> None:
    """Test = last item, valid = second to last, train = the `train_records_per_user` targets before those."""
    cfg = data.config
    titles = data.catalog.titles
    assert titles is not None
    parts: dict[str, tuple[list, list, list]] = {s: ([], [], []) for s in ("train", "valid", "test")}
    bounds = np.flatnonzero(np.r_[True, users[1:] != users[:-1], True])
    for a, b in zip(bounds[:-1], bounds[1:]):
        timeline = items[a:b].tolist()
        n = len(timeline)
        targets = {"test": [n - 1], "valid": [n - 2], "train": list(range(max(1, n - 2 - cfg.train_records_per_user), n - 2))}
        for split, positions in targets.items():
            for p in positions:
                if p < 1:
                    continue
                parts[split][0].append(timeline[max(0, p - cfg.max_history) : p])
                parts[split][1].append(timeline[p])
                parts[split][2].append(int(users[a]))
    for split, (hist, tgt, usr) in parts.items():
        data.sequences[split] = Sequences.from_lists(hist, tgt, usr)
        data.records[split] = [
            {
                "instruction": INSTRUCTION,
                "input": INPUT_PREFIX + ", ".join(quote(titles[i]) for i in h) + INPUT_SUFFIX,
                "output": quote(titles[t]) + "\n",
            }
            for h, t in zip(hist, tgt)
        ]


def write_goodreads_dir(data: SyntheticData, folder: str | Path) -> Path:
    """Write the dataset in the Goodreads LLM layout (+ `interactions.csv` and the config) to `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cat = data.catalog
    titles = cat.titles or []
    write_json(folder / "id2name.json", {str(i): t for i, t in enumerate(titles)})
    write_json(folder / "name2id.json", {t: i for i, t in enumerate(titles)})
    write_json(folder / "name2genre.json", {t: cat.item_genres(i) for i, t in enumerate(titles)})
    write_json(folder / "genre_dict.json", {g: 0 for g in (cat.fairness_genres or cat.genre_names)})
    for split, recs in data.records.items():
        write_json(folder / f"{split}.json", recs)
    inter = data.interactions
    lines = ["user,item,rating,timestamp"] + [
        f"{u},{i},{r:g},{t}" for u, i, r, t in zip(inter.entry_users(), inter.matrix.indices, inter.ratings, inter.timestamps)
    ]
    write_text(folder / "interactions.csv", "\n".join(lines) + "\n")
    write_json(folder / "synthetic_config.json", asdict(data.config))
    return folder
