"""Benchmarks: load generators that measure a running registry against a floor in the same run."""
