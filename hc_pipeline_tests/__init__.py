"""Tests for hc_pipeline."""
