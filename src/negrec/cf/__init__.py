"""Collaborative filtering: top-K recommendation and reference recommenders (MF trainers come with the sampler issue)."""
