"""Data quality gates: declared rules per table, one metrics query per table, anomalies over history,
results in `audit.quality_results`, the same rules as a pydeequ VerificationSuite for Glue.

Modules: rules (the declarations), declare (reading quality/*.yaml), compile_metrics (one query per table),
anomaly and evaluate (judging), store (audit tables), gate (the pipeline step), audit_branch (a mart build on
its branch, published by fast-forward), publish (reverting a mart), deequ and glue_gate (the Glue jobs),
emf (CloudWatch), summary (what people read)."""
