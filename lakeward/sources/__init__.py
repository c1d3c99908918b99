"""Extraction, one module per source kind; Lambda handlers, Glue scripts and the local runner all call it."""
