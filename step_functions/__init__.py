"""State machine builders: Amazon States Language generated from the definition (see README.md)."""
