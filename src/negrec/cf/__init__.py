"""Collaborative filtering: MF and LightGCN, their losses and trainer, the recommenders and reference baselines."""
