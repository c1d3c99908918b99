"""Landing batches on S3: a batch is built on local scratch by the usual BatchWriter, then uploaded part
files first and the manifest last, so on S3 too a batch is committed exactly when its manifest exists."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from botocore.exceptions import ClientError

from lakeward.lake import landing


def batch_prefix(source: str, obj: str, batch_id: str) -> str:
    return f"{source}/{obj}/{batch_id}/"


def committed(s3, bucket: str, source: str, obj: str, window: landing.Window) -> landing.Manifest | None:
    key = batch_prefix(source, obj, landing.batch_id(source, obj, window)) + landing.MANIFEST
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as err:
        if err.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None
        raise
    return landing.Manifest(**json.loads(body))


def latest(s3, bucket: str, source: str, obj: str, other_than: str) -> landing.Manifest | None:
    """The object's most recently committed batch other than `other_than`: manifests are written last, so
    the newest manifest key is the newest commit (what drift detection compares against)."""
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{source}/{obj}/"):
        for item in page.get("Contents", []):
            parts = item["Key"].split("/")
            if len(parts) == 4 and parts[3] == landing.MANIFEST and parts[2] != other_than:
                keys.append((item["LastModified"], item["Key"]))
    if not keys:
        return None
    newest = max(when for when, _ in keys)
    # LastModified has one-second resolution: manifests of the same second are ordered by their own clock.
    tied = [landing.Manifest(**json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
            for when, key in keys if when == newest]
    return max(tied, key=lambda m: m.extracted_at)


def fetch_latest_manifest(s3, bucket: str, root: Path, source: str, obj: str, other_than: str) -> Path | None:
    """Put the object's latest committed manifest (not its data) into the local landing layout, where an
    extractor looks for the previous batch; a Lambda starts with an empty /tmp."""
    manifest = latest(s3, bucket, source, obj, other_than)
    if manifest is None:
        return None
    folder = root / source / obj / manifest.batch_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / landing.MANIFEST).write_text(json.dumps(asdict(manifest), indent=2))
    return folder / landing.MANIFEST


def upload(s3, bucket: str, root: Path, manifest: landing.Manifest) -> str:
    """Upload a locally committed batch (parts and any side files such as a file list), manifest last;
    returns the manifest's key."""
    prefix = batch_prefix(manifest.source, manifest.object, manifest.batch_id)
    folder = root / manifest.source / manifest.object / manifest.batch_id
    for path in sorted(folder.iterdir()):
        if path.name != landing.MANIFEST and path.is_file():
            s3.upload_file(str(path), bucket, prefix + path.name)
    s3.put_object(Bucket=bucket, Key=prefix + landing.MANIFEST, Body=json.dumps(asdict(manifest), indent=2).encode())
    return prefix + landing.MANIFEST


def download(s3, bucket: str, root: Path, manifest: landing.Manifest) -> None:
    """Fetch a batch into the local landing layout that `landing.read_batch` checks."""
    prefix = batch_prefix(manifest.source, manifest.object, manifest.batch_id)
    folder = root / manifest.source / manifest.object / manifest.batch_id
    folder.mkdir(parents=True, exist_ok=True)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            s3.download_file(bucket, item["Key"], str(folder / item["Key"][len(prefix):]))
