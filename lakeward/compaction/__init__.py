"""App-event compaction: raw NDJSON lines -> typed, deduplicated, partitioned events plus a quarantine."""
