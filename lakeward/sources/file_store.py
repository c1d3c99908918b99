"""Where a `files` source's files live: a local folder or an S3 prefix, listed with a change tag per file.

The tag is what the processed-files ledger compares: S3's ETag comes free with the listing; on local disk
it is the sha256 of the bytes, so a rewritten file is always read again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlparse

import pyarrow.fs as pafs

from lakeward.lake.landing import sha256_file

TIME_FIELDS = {"%Y": r"(?P<Y>\d{4})", "%m": r"(?P<m>\d{2})", "%d": r"(?P<d>\d{2})", "%H": r"(?P<H>\d{2})"}


@dataclass(frozen=True)
class SourceFile:
    path: str  # relative to the root
    size: int
    etag: str


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """A glob with strftime fields as a regex over paths relative to the prefix (`*` stays within a folder)."""
    out = []
    for token in re.split(r"(%[YmdH]|\*\*|\*|\?)", pattern):
        if token in TIME_FIELDS:
            out.append(TIME_FIELDS[token])
        elif token == "**":
            out.append(".*")
        elif token == "*":
            out.append("[^/]*")
        elif token == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(token))
    return re.compile("".join(out) + "$")


class Root:
    """The connection root of a files source: `s3://bucket/prefix`, `file:///dir` or a plain folder."""

    def __init__(self, uri: str):
        parsed = urlparse(uri)
        self.s3 = parsed.scheme == "s3"
        if self.s3:
            self.bucket, self.base = parsed.netloc, parsed.path.strip("/")
            self.fs: pafs.FileSystem = pafs.S3FileSystem(endpoint_override=_endpoint(), allow_bucket_creation=False)
        else:
            self.base = str(Path(parsed.path if parsed.scheme == "file" else uri).resolve())
            self.fs = pafs.LocalFileSystem()

    def _key(self, *parts: str) -> str:
        return "/".join(p.strip("/") for p in (self.base, *parts) if p.strip("/"))

    def location(self, path: str) -> str:
        """The full path of a file as pyarrow's filesystem names it."""
        return f"{self.bucket}/{self._key(path)}" if self.s3 else str(Path(self.base, path))

    def list(self, prefix: str, pattern: str) -> list[SourceFile]:
        """Every file under `prefix` whose path below it matches `pattern`, in path order."""
        regex = pattern_regex(pattern)
        found = self._list_s3(prefix) if self.s3 else self._list_local(prefix)
        under = prefix.strip("/")
        return sorted(
            (f for f in found if regex.match(f.path[len(under) + 1:] if under else f.path)), key=lambda f: f.path)

    def _list_local(self, prefix: str) -> list[SourceFile]:
        folder = Path(self.base, prefix)
        if not folder.is_dir():
            return []
        return [SourceFile(p.relative_to(self.base).as_posix(), p.stat().st_size, sha256_file(p))
                for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")]

    def _list_s3(self, prefix: str) -> list[SourceFile]:
        import boto3  # only deployments reading S3 need it

        client = boto3.client("s3", endpoint_url=_endpoint())
        start = self._key(prefix)
        files = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start + "/"):
            for obj in page.get("Contents", []):
                relative = obj["Key"][len(self.base) + 1:] if self.base else obj["Key"]
                files.append(SourceFile(relative, obj["Size"], obj["ETag"].strip('"')))
        return files

    def open(self, path: str) -> BinaryIO:
        """The raw bytes of a file (still compressed), seekable."""
        return self.fs.open_input_file(self.location(path))


def _endpoint() -> str | None:
    import os

    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
