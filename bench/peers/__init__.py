"""Benchmarks of other sync engines beside SyncScope's (`python -m bench.peers`)."""
