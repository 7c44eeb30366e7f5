"""Negative sampling shared by CF and LLM preference data: profiles, candidate selection strategies."""

from negrec.sampling.profiles import Exposure, count_exposure, interest_clusters
from negrec.sampling.strategies import STRATEGIES, CandidateTable, select

__all__ = ["STRATEGIES", "CandidateTable", "Exposure", "count_exposure", "interest_clusters", "select"]
