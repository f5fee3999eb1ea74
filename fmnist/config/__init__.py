"""A run's settings: the one table that declares them (settings), TrainConfig made from it (run), their text (text)
and the presets."""

from fmnist.config.run import BEST, CNN, CNN_BEST, PRESETS, QUICK, SEED, ConfigError, TrainConfig, layers_text
from fmnist.config.settings import (
    ACTIVATIONS,
    DEVICES,
    MAX_EPOCHS,
    MAX_LAYERS,
    MAX_WIDTH,
    OPTIMIZERS,
    PRECISIONS,
    SCHEDULES,
    TRAIN_SIZE,
)

__all__ = ["ACTIVATIONS", "BEST", "CNN", "CNN_BEST", "DEVICES", "MAX_EPOCHS", "MAX_LAYERS", "MAX_WIDTH", "OPTIMIZERS",
           "PRECISIONS", "PRESETS", "QUICK", "SCHEDULES", "SEED", "TRAIN_SIZE", "ConfigError", "TrainConfig",
           "layers_text"]
