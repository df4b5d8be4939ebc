"""Pandera models: the single source of the data rules, one module per domain."""
