"""fmnist: train, evaluate and inspect multilayer perceptrons on Fashion-MNIST."""

__version__ = "0.1.0"
