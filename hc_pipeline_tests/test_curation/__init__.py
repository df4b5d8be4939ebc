"""Tests for the pure curation functions."""
