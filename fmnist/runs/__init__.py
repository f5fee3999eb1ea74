"""Training runs as worker processes owned by the app's server."""
