"""Benchmarks behind ``fst bench``. Targets live here, never in timed unit tests."""
