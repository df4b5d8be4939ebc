"""End-to-end: the real dagster-daemon and dagster-webserver, S3 on a moto server, the UI in headless Chromium."""
