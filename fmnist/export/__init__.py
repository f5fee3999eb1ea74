"""Taking a checkpoint out of fmnist: ONNX, torch.export, and a readable training script."""
