"""Views into a model: explanations, the network and its health, one step, and predictions."""
