"""Hyper-parameter sweeps on Optuna: the search space and study, and the runner that trains trials as app jobs."""
