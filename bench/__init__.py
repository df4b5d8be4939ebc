"""Benchmarks of hc_pipeline against a near-limit DuckDB baseline and a Lambda-style script (`python -m bench`)."""
