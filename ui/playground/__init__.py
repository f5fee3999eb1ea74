"""The Playground page's pieces: its figures, its setup form and its state."""
