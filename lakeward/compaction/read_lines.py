"""Raw NDJSON lines of many files as one Arrow table (file, line_number, line, read_error), in parallel.

Every line keeps its newline (JSON parsers ignore it; the quarantine trims it), so a file's lines are
views into its decompressed bytes. A damaged file never stops its batch: a truncated gzip stream yields
the lines decompressed before the damage plus one quarantined row for the lost rest (its partial last
line, if any); an undecodable line is kept with its bytes escaped and a read_error, so the SQL
quarantines it and the counts still add up.
"""

from __future__ import annotations

import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa

from lakeward.sources.file_store import Root, SourceFile

SCHEMA = pa.schema([
    pa.field("file", pa.string(), nullable=False),
    pa.field("line_number", pa.int64(), nullable=False),
    pa.field("line", pa.string()),
    pa.field("read_error", pa.string()),
])
CHUNK = 8 << 20
TRUNCATED = "truncated gzip stream: the rest of the file is unreadable"


def decompress(raw: bytes) -> tuple[bytes, bool]:
    """All gzip members' bytes up to any damage, and whether the stream was damaged or cut short."""
    out, data = [], raw
    while data:
        inflater = zlib.decompressobj(wbits=31)
        try:  # in slices, so the bytes before a corrupt block survive it
            for start in range(0, len(data), CHUNK):
                out.append(inflater.decompress(data[start:start + CHUNK]))
                if inflater.eof:
                    break
        except zlib.error:
            return b"".join(out), True
        if not inflater.eof:
            return b"".join(out), True
        data = inflater.unused_data + data[start + CHUNK:]
    return b"".join(out), False


def read_file(root: Root, source: SourceFile) -> pa.Table:
    with root.open(source.path) as fh:
        raw = fh.read()
    data, damaged = decompress(raw) if source.path.endswith(".gz") else (raw, False)
    return split_lines(source.path, data, damaged)


def split_lines(path: str, data: bytes, damaged: bool = False) -> pa.Table:
    """One row per line, each keeping its newline: the lines are views into `data`, nothing is copied."""
    newlines = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
    ends = newlines + 1 if data.endswith(b"\n") or not data else np.append(newlines + 1, len(data))
    offsets = np.concatenate(([0], ends)).astype(np.int64)
    lines = pa.LargeStringArray.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(data))
    try:
        lines.validate(full=True)  # UTF-8, in one C pass
        errors = pa.nulls(len(lines), pa.string())
    except pa.ArrowInvalid:
        lines, errors = _decode_each(data, offsets)
    if damaged:
        if data.endswith(b"\n") or not data:  # cut at a line boundary: one row stands for the unreadable rest
            lines = pa.concat_arrays([lines, pa.array([""], pa.large_string())])
            errors = pa.concat_arrays([errors, pa.array([TRUNCATED], pa.string())])
        else:  # the last line is partial
            errors = pa.concat_arrays([errors[:-1], pa.array([TRUNCATED + " (partial line)"], pa.string())])
    count = len(lines)
    return pa.Table.from_arrays(
        [pa.DictionaryArray.from_arrays(pa.array(np.zeros(count, np.int32)), pa.array([path])).cast(pa.string()),
         pa.array(np.arange(1, count + 1, dtype=np.int64)), lines.cast(pa.string()), errors], schema=SCHEMA)


def _decode_each(data: bytes, offsets) -> tuple[pa.Array, pa.Array]:
    lines, errors = [], []
    for start, end in zip(offsets[:-1], offsets[1:], strict=True):
        raw = data[start:end]
        try:
            lines.append(raw.decode("utf-8"))
            errors.append(None)
        except UnicodeDecodeError as err:
            lines.append(raw.decode("utf-8", "backslashreplace"))
            errors.append(f"undecodable UTF-8 at byte {err.start}")
    return pa.array(lines, pa.large_string()), pa.array(errors, pa.string())


def read_lines(root: Root, files: list[SourceFile], workers: int = 2) -> pa.Table:
    """Every line of the files, in file order then line order."""
    if not files:
        return SCHEMA.empty_table()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lines") as pool:
        tables = list(pool.map(lambda f: read_file(root, f), files))
    return pa.concat_tables(tables)
