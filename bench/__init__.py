"""Benchmarks of the bot over real HTTP: the harness, its connector stub, the data generator and baselines."""
