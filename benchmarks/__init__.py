"""Benchmarks: runnable with ``python -m benchmarks.<name>``; figures go in the closing notes."""
