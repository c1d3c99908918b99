"""Local HTTP emulators of the SaaS APIs Lakeward reads, for the demo and the tests."""
