"""What outlives a run: checkpoints, and the recovery files a crashed run goes on from."""
