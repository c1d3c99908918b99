"""Landing batches: deterministic ids, manifests with checksums, commit-by-manifest."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from lakeward.lake import landing

W = landing.Window(datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 9, 1, 1, tzinfo=UTC))


def write(root, rows=3) -> landing.Manifest:
    writer = landing.BatchWriter(root, "postgres", "orders", W).begin()
    data = pa.record_batch({"id": pa.array(range(rows), pa.int64())})
    writer.write(data)
    return writer.commit(data.schema, {"chunks": 1})


def test_batch_id_is_deterministic_per_source_object_and_window():
    same = landing.Window(W.start.astimezone(UTC), W.end)
    assert landing.batch_id("postgres", "orders", W) == landing.batch_id("postgres", "orders", same)
    assert landing.batch_id("postgres", "orders", W) != landing.batch_id("postgres", "payments", W)
    later = landing.Window(W.start, datetime(2026, 9, 1, 2, tzinfo=UTC))
    assert landing.batch_id("postgres", "orders", W) != landing.batch_id("postgres", "orders", later)


def test_manifest_records_window_rows_checksums_and_code_version(tmp_path):
    manifest = write(tmp_path)
    assert manifest.window == {"start": "2026-09-01T00:00:00+00:00", "end": "2026-09-01T01:00:00+00:00"}
    assert manifest.row_count == 3 and len(manifest.files[0]["sha256"]) == 64
    assert manifest.code_version
    assert landing.committed(tmp_path, "postgres", "orders", W) == manifest
    assert landing.read_batch(tmp_path, manifest)["id"].to_pylist() == [0, 1, 2]


def test_a_batch_without_manifest_is_not_committed(tmp_path):
    writer = landing.BatchWriter(tmp_path, "postgres", "orders", W).begin()
    writer.write(pa.record_batch({"id": pa.array([1], pa.int64())}))
    assert landing.committed(tmp_path, "postgres", "orders", W) is None


def test_a_tampered_file_is_detected(tmp_path):
    manifest = write(tmp_path)
    part = tmp_path / "postgres" / "orders" / manifest.batch_id / manifest.files[0]["path"]
    part.write_bytes(part.read_bytes()[:-1] + b"\x00")
    with pytest.raises(landing.LandingError, match="does not match its manifest sha256"):
        landing.read_batch(tmp_path, manifest)


def test_an_empty_window_still_commits(tmp_path):
    manifest = write(tmp_path, rows=0)
    assert manifest.row_count == 0
    assert landing.read_batch(tmp_path, manifest).num_rows == 0


def test_a_window_must_be_ordered_and_aware():
    with pytest.raises(ValueError, match="empty window"):
        landing.Window(W.end, W.start)
    with pytest.raises(ValueError, match="timezone-aware"):
        landing.Window(datetime(2026, 9, 1), datetime(2026, 9, 2))
