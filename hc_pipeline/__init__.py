"""hc_pipeline: the Dagster code location."""
