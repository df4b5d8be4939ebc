"""Tests that materialize the domain assets."""
