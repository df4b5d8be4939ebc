"""Tests for the notifiers, the message composers and the alert sensors."""
