"""Training a model: the events a run publishes, its controls, the recipe, the step, the notebook's RNG replicas, the
loop, and the memory guard."""
