"""negrec: negative sampling as a first-class, measured part of training recommenders."""

__version__ = "0.1.0"
