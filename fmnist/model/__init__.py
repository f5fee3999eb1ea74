"""The network a TrainConfig describes: its layers in plain Python, the torch module, and the devices it runs on."""
