"""negrec: negative sampling as a first-class, measured part of training recommenders."""

import os

__version__ = "0.1.0"

# torch's CPU allocator backs large tensors with transparent huge pages when this is set before torch starts: with
# 4 KB pages nearly every embedding row a large MF table's step touches is a TLB miss (one 10^8-interaction epoch:
# 48 s instead of 72 s, benchmarks/results/cf_scaling.json). setdefault: THP_MEM_ALLOC_ENABLE=0 keeps torch's default
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")


def compare(dataset, samplers, *, family: str = "cf", **options):
    """Compare negative samplers in one call: `negrec.compare("movielens-100k", ["uniform", "dns:5", "inbatch+logq"],
    protocol="ratio", data_dir="../shared/data")` → a `Comparison` (runs, metrics table with CIs, paired tests);
    `models={"mine": MyRecommender()}` adds any `negrec.recommender.Recommender` as a row of the same split; see
    `negrec.experiments.cf.compare_samplers` for the options. `family="seq"` compares sequential systems
    `LOSS[:SAMPLER][/SHARE]` (`["ce", "bce:uniform/sequence", "gbce:uniform:256"]`; options of
    `negrec.experiments.seq.compare_sequential`)."""
    if not isinstance(dataset, str) and type(dataset).__name__ not in ("Dataset", "SeqData"):
        raise TypeError(f"dataset: a name, a path or 'synthetic' (or a loaded Dataset), got {type(dataset).__name__}")
    if isinstance(samplers, str) or not isinstance(samplers, (list, tuple)) or not (samplers or options.get("models")):
        raise ValueError(f"samplers: a non-empty list of specs such as ['uniform', 'dns:5'], got {samplers!r}")
    if "config" in options and isinstance(options["config"], (str, dict)):
        raise TypeError("config: a TrainConfig (seq: SeqConfig) object, e.g. TrainConfig(epochs=1), not a string or dict")
    if family == "seq":
        from negrec.experiments.seq import compare_sequential

        return compare_sequential(dataset, samplers, **options)
    if family != "cf":
        raise ValueError(f"family must be 'cf' or 'seq', got {family!r}")
    from negrec.experiments.cf import compare_samplers  # imported on use: `import negrec` stays light

    return compare_samplers(dataset, samplers, **options)
