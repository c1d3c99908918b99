"""Demo data sources used by the walkthrough and the tests."""
