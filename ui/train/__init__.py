"""The Train page's pieces: the settings form, shared links and lessons, the model summary and the run's view."""
