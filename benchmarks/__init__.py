"""Benchmarks of the klink source against stock dlt and a hand-written floor: `python -m benchmarks`."""
