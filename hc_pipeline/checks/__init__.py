"""Asset checks built from the pandera rule groups."""
