"""The dataset: finding, checking and loading Fashion-MNIST, and turning pictures into its 28 x 28 format."""
