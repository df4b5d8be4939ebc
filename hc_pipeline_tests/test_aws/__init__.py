"""Integration tests against a moto server on 127.0.0.1: S3 and Athena."""
