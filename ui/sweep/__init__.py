"""The Sweep page's pieces: its figures and its view."""
