"""Benchmarks behind `make bench`: figures reported as ratios measured within one run."""
