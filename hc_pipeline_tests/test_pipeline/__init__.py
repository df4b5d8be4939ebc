"""Whole-pipeline tests on generated data: ground truth, privacy, the command line."""
