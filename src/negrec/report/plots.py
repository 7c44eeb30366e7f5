"""Matplotlib PNG plots (Agg backend, imported lazily so the CLI starts fast)."""

from __future__ import annotations

from pathlib import Path

from negrec.data.io import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    return Path(path)


def metric_bars(rows: list[dict], metric: str, path: str | Path, *, label: str = "system") -> Path:
    """Bar chart of one metric per system, with CI whiskers where the cell has {mean, low, high}."""
    plt = _pyplot()
    names = [str(r[label]) for r in rows]
    cells = [r[metric] for r in rows]
    means = [c["mean"] if isinstance(c, dict) else float(c) for c in cells]
    errs = [
        [m - c["low"] for m, c in zip(means, cells)] if all(isinstance(c, dict) for c in cells) else None,
        [c["high"] - m for m, c in zip(means, cells)] if all(isinstance(c, dict) for c in cells) else None,
    ]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(names)), 3.2))
    ax.bar(names, means, yerr=None if errs[0] is None else errs, capsize=4, color="#4C72B0")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} by {label} (95% bootstrap CI)" if errs[0] is not None else f"{metric} by {label}")
    ax.tick_params(axis="x", rotation=30)
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


def leaderboard(rows: list[dict], path: str | Path, *, metric: str = "NDCG@10", title: str = "") -> Path:
    """Horizontal bars of one metric per system, best at the top, with the CI over seeds as whiskers; rows are
    {"name", "mean", "low", "high", "group"} and each group (e.g. MF, LightGCN, peer) gets its own colour."""
    plt = _pyplot()
    rows = sorted(rows, key=lambda r: r["mean"])
    groups = list(dict.fromkeys(r["group"] for r in rows))
    colours = dict(zip(groups, ["#4C72B0", "#55A868", "#C44E52", "#8172B2", "#CCB974"]))
    fig, ax = plt.subplots(figsize=(7.5, 0.28 * len(rows) + 1.2))
    ys = range(len(rows))
    low = [r["mean"] - r["low"] if r["low"] == r["low"] else 0.0 for r in rows]  # a NaN CI (one seed): no whisker
    high = [r["high"] - r["mean"] if r["high"] == r["high"] else 0.0 for r in rows]
    ax.barh(list(ys), [r["mean"] for r in rows], xerr=[low, high], capsize=2, color=[colours[r["group"]] for r in rows])
    ax.set_yticks(list(ys), [r["name"] for r in rows], fontsize=8)
    ax.set_xlabel(f"{metric} (→ better; whiskers: 95 % CI over seeds)")
    ax.set_xlim(0, max(r["high"] if r["high"] == r["high"] else r["mean"] for r in rows) * 1.08)
    ax.legend(
        handles=[plt.Rectangle((0, 0), 1, 1, color=colours[g]) for g in groups], labels=groups, loc="lower right", fontsize=8
    )
    ax.set_title(title)
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


def coincident_labels(points: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """Merge the labels of systems that sit on the same point ("a = b"), first appearance first."""
    merged: dict[tuple[float, float], list[str]] = {}
    for x, y, name in points:
        merged.setdefault((x, y), []).append(name)
    return [(x, y, " = ".join(names)) for (x, y), names in merged.items()]


def label_offsets(anchors: list[tuple[float, float]], *, width: float = 60.0, height: float = 10.0) -> list[float]:
    """Vertical offsets (display points) that keep labels anchored at `anchors` (display points) from overlapping:
    placed bottom to top, each label moves up until no earlier label's box (width × height) covers it."""
    order = sorted(range(len(anchors)), key=lambda i: (anchors[i][1], anchors[i][0]))
    placed: list[tuple[float, float]] = []
    offsets = [0.0] * len(anchors)
    for i in order:
        x, y = anchors[i]
        dy = 0.0
        while any(abs(x - px) < width and abs(y + dy - py) < height for px, py in placed):
            dy += height
        offsets[i] = dy
        placed.append((x, y + dy))
    return offsets


MARKERS = ("o", "s", "^", "D", "v", "P", "<", ">", "h", "*")
REFERENCE_ROWS = ("MostPop", "RandomRec")  # recommenders shown for reference: they train with no negatives


def _direction(metric: str) -> str:
    """An axis label that says which way is better."""
    from negrec.report.columns import higher_is_better

    return f"{metric} ({'higher' if higher_is_better(metric) else 'lower'} is better)"


def scatter_tradeoff(rows: list[dict], x: str, y: str, path: str | Path, *, label: str = "system") -> Path:
    """Scatter of two metrics (e.g. accuracy vs. diversity) with 95 % CI bars where the cells carry them, one
    label per distinct position, labels moved apart where they would overlap."""
    plt = _pyplot()

    def val(c: object) -> float:
        return c["mean"] if isinstance(c, dict) else float(c)

    def err(c: object) -> tuple[float, float] | None:
        return (c["mean"] - c["low"], c["high"] - c["mean"]) if isinstance(c, dict) and "low" in c else None

    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    for r in rows:
        ex, ey = err(r[x]), err(r[y])
        if ex is not None or ey is not None:
            ax.errorbar(
                val(r[x]),
                val(r[y]),
                xerr=None if ex is None else [[ex[0]], [ex[1]]],
                yerr=None if ey is None else [[ey[0]], [ey[1]]],
                fmt="none",
                ecolor="0.7",
                lw=0.8,
                capsize=2,
            )
    # Systems with identical metrics (e.g. strategies that picked the same negatives) share one joined label
    points = coincident_labels([(val(r[x]), val(r[y]), str(r[label])) for r in rows])
    palette = plt.get_cmap("tab20").colors
    for i, (px, py, text) in enumerate(points):
        reference = any(name in REFERENCE_ROWS for name in text.split(" = "))
        # reference recommenders (no negatives) in grey crosses; systems get a colour and a marker each
        ax.scatter(
            px,
            py,
            s=44,
            zorder=3,
            marker="X" if reference else MARKERS[i % len(MARKERS)],
            color="0.45" if reference else palette[i % len(palette)],
            edgecolors="white",
            linewidths=0.5,
        )
    display = ax.transData.transform([(px, py) for px, py, _ in points]) * 72.0 / fig.dpi if points else []
    for (px, py, text), dy in zip(points, label_offsets([tuple(d) for d in display])):
        # a label pushed off its point keeps a thin line back to it
        ax.annotate(
            text,
            (px, py),
            textcoords="offset points",
            xytext=(5, 4 + dy),
            fontsize=8,
            arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.5} if dy else None,
            style="italic" if any(n in REFERENCE_ROWS for n in text.split(" = ")) else "normal",
        )
    ax.margins(x=0.12, y=0.12)  # room for the labels of the outermost points inside the axes
    ax.set_xlabel(_direction(x))
    ax.set_ylabel(_direction(y))
    ax.set_title(f"{y} vs. {x}" + (" (95% CI)" if any(err(r[y]) for r in rows) else ""))
    ax.grid(alpha=0.3)
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


def training_curves(history: list[dict], path: str | Path, *, metric: str | None = None, x: str = "epoch") -> Path:
    """Loss (left axis) and the validation metric (right axis) per epoch (or per optimiser step: `x="step"`)."""
    plt = _pyplot()
    epochs = [h[x] for h in history]
    fig, ax = plt.subplots(figsize=(5.0, 3.2))
    ax.plot(epochs, [h["loss"] for h in history], color="#4C72B0", marker="o", ms=3, label="training loss")
    ax.set_xlabel("optimiser step" if x == "step" else x)
    ax.set_ylabel("loss", color="#4C72B0")
    if metric and any(metric in h for h in history):
        ax2 = ax.twinx()
        pts = [(h[x], h[metric]) for h in history if metric in h]
        ax2.plot([p[0] for p in pts], [p[1] for p in pts], color="#DD8452", marker="s", ms=3, label=metric)
        ax2.set_ylabel(f"validation {metric}", color="#DD8452")
    ax.set_title("training curve")
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


def curves_from_logs(folder: str | Path) -> list[Path]:
    """A curve.png (loss, and reward accuracy when logged) beside every `log.jsonl` under `folder`."""
    import json

    written = []
    for log in sorted(Path(folder).rglob("log.jsonl")):
        rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        rows = [r for r in rows if "loss" in r]
        if not rows:
            continue
        metric = "reward accuracy" if "rewards/accuracies" in rows[0] else None
        points = [
            {"step": r.get("step", i), "loss": r["loss"], **({metric: r["rewards/accuracies"]} if metric else {})}
            for i, r in enumerate(rows)
        ]
        written.append(training_curves(points, log.with_name("curve.png"), metric=metric, x="step"))
    return written
