"""Dagster-free cores of the landing zone and the query engine: the fast commands use them directly, the resources delegate to them."""
