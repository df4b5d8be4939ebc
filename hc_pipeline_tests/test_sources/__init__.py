"""Tests for the file readers in hc_pipeline.sources."""
