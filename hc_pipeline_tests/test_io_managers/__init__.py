"""Tests for the lake IO manager."""
