"""negrec: negative sampling as a first-class, measured part of training recommenders."""

__version__ = "0.1.0"


def compare(dataset, samplers, **options):
    """Compare negative samplers in one call: `negrec.compare("movielens-100k", ["uniform", "dns:5", "inbatch+logq"],
    protocol="ratio", data_dir="../shared/data")` → a `Comparison` (runs, metrics table with CIs, paired tests); see
    `negrec.experiments.cf.compare_samplers` for the options."""
    from negrec.experiments.cf import compare_samplers  # imported on use: `import negrec` stays light

    return compare_samplers(dataset, samplers, **options)
