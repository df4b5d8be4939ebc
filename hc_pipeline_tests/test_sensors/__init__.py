"""Tests for the landing sensors and their cursor."""
