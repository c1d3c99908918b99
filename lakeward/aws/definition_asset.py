"""The definition as the Glue jobs receive it: one zip asset on S3 with pipeline.yaml, its SQL and its rules."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from urllib.parse import urlparse


def fetch_definition(s3, url: str, into: Path) -> Path:
    """Unpack the asset at `url` (s3://bucket/key) into `into`; returns the definition file."""
    parsed = urlparse(url)
    body = s3.get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        zf.extractall(into)
    return into / "pipeline.yaml"
