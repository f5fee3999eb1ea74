"""Looking at a model: evaluation, explanations, layer health, one step in detail, predictions."""
