"""Everything that touches the outside: landing zone, storage zones, query engine, notifier."""
