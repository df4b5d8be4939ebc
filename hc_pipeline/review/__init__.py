"""The stewards' loop without Dagster: exception ids, the export, decisions files and how they resolve a file."""
