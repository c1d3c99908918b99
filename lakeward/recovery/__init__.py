"""Recovery: fault points, crash cleanup, reruns, backfills, fault scenarios and reconciliation."""
