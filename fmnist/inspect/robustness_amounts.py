"""The shifts (pixels) and rotations (degrees) of the shift and rotation test by default, without torch: the Evaluate
page lists them in the app's server, which imports no torch to show that page (fmnist.inspect.robustness measures)."""

SHIFTS = (0, 1, 2, 3, 4)
ROTATIONS = (0, 5, 10, 15)
