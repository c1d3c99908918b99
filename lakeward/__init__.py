"""Lakeward: one governed Iceberg warehouse, the same pipeline on AWS and on a laptop."""

__version__ = "0.1.0"

import warnings

# pyiceberg warns when an overwrite filter matches nothing, which is every first load of a partition.
warnings.filterwarnings("ignore", message="Delete operation did not match any records")
# pgserver asks platformdirs for a runtime dir that containers often lack; it falls back correctly.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
