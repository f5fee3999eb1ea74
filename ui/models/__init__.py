"""The Models page's pieces: downloads, interrupted runs and the comparison in words."""
