"""Sample-data generator with ground truth of injected defects."""
