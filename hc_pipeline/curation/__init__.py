"""Pure functions that turn raw records into curated and quarantined rows with findings."""
