"""Runnable benchmarks: each script prints its figures and ratios against the project's targets."""
