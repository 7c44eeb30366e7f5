"""The names CF settings take, one spelling for the library and the command line (a light module: the CLI builds
its choices from it without importing torch)."""

from typing import Literal

ModelName = Literal["mf", "mf-nobias", "lightgcn"]
LossName = Literal["bpr", "bce", "gbce", "softmax", "ce"]
OptimizerName = Literal["adam", "sparse_adam", "sgd"]
SamplingPlace = Literal["auto", "host", "device"]
TablesName = Literal["replicated", "sharded", "shared", "local"]
