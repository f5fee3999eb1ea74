"""`python -m fmnist ...`: the engine from a terminal."""
