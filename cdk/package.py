"""Packaging without Docker (`make build`): the Lambda asset folder and the Glue library zip.

    build/lambda/                 lakeward/, lambdas/, the definition and its SQL (+ extraction wheels)
    build/lambda-steps/           the same code (+ the stage and quality wheels: pyiceberg, DuckDB)
    build/glue/lakeward.zip       --extra-py-files of every Glue job
    build/glue/definition/        the definition and its SQL, read by the Glue scripts
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

from lakeward.definition import Definition
from lakeward.quality.declare import rules_folder

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
# Each Lambda asset and the pinned wheels it vendors: one asset with both sets would exceed Lambda's limit.
ASSETS = {"lambda": ROOT / "requirements-lambda.txt", "lambda-steps": ROOT / "requirements-lambda-steps.txt"}
LAMBDA_PYTHON = "3.12"  # cdk/functions.py runs this runtime
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
# Files in the vendored wheels no function loads, each with why removing it is safe. The *.dist-info folders
# stay: DuckDB reads its version from them at import, and they carry the licences the wheels ship under.
TRIM = {
    "**/tests": "test suites (pyarrow's alone is 7 MB); never imported outside their own runners",
    "**/*.pyi": "type stubs, read by type checkers only",
    "**/*.pxd": "Cython declarations, read only when compiling against the package",
    "**/*.pyx": "Cython sources of modules shipped compiled",
    "**/*.pxi": "Cython include files of the compiled pyarrow.lib",
    "pyarrow/include": "C++ headers, for building extensions against Arrow",
    "pyarrow/src": "C++ sources of the Python bindings, shipped compiled",
    # Arrow Flight (RPC) is never used; libarrow_substrait stays: pyarrow.lib links against it.
    "pyarrow/libarrow_flight.so*": "Arrow Flight RPC, loaded only by pyarrow.flight",
    "pyarrow/libarrow_python_flight.so*": "Flight's Python glue, loaded only by pyarrow.flight",
    "pyarrow/_flight*": "pyarrow.flight's extension module",
    "pyarrow/_substrait*": "pyarrow.substrait's extension module (Substrait plans are never consumed)",
    # A wheel cannot hold symlinks, so each library comes three times; the loader opens only the SONAME
    # (libX.so.2500), which every module's DT_NEEDED names: the link-time name and full version are copies.
    "pyarrow/libarrow_python*.so": "link-time copy of a library whose SONAME file stays",
    "pyarrow/lib*.so.*.*": "full-version copy of a library whose SONAME file stays",
    "pyarrow/_azurefs*": "Azure filesystem; pyarrow.fs imports it optionally and the lake is on S3",
    "pyarrow/_gcsfs*": "Google Cloud Storage filesystem; optional in pyarrow.fs",
    "pyarrow/_hdfs*": "HDFS filesystem; optional in pyarrow.fs",
    "pyarrow/_pyarrow_cpp_tests*": "pyarrow's C++ test hooks",
    "numpy/_core/include": "numpy C headers (only in the extraction asset)",
    "numpy/f2py": "the Fortran wrapper generator",
    "zstandard/_cffi*": "the CFFI backend; zstandard loads its C backend (backend_c) unless told otherwise",
    "zstandard/backend_cffi.py": "the CFFI backend's Python half",
    "duckdb/experimental": "DuckDB's PySpark-like API, never imported",
    "hive_metastore": "pyiceberg's Hive catalog client; the functions use the Glue catalog",
    "fb303": "Thrift base service of the Hive client above",
}
# Lambda counts the function's unzipped files plus its layers' against 262,144,000 bytes (250 MiB).
LAMBDA_LIMIT_BYTES = 262_144_000
# The powertools layer: 41,227,448 bytes measured as `pip install --target DIR --platform manylinux_2_28_x86_64
# --python-version 3.12 --only-binary=:all: 'aws-lambda-powertools[tracer,validation,parser,datamasking]==3.37.0'`
# minus boto3, botocore and s3transfer (the runtime provides them, and the layer leaves them out); rounded up.
POWERTOOLS_LAYER_BYTES = 42_000_000
# What each asset's functions carry in layers (cdk/functions.py): the stage asset vendors powertools instead.
LAYER_BYTES = {"lambda": POWERTOOLS_LAYER_BYTES, "lambda-steps": 0}


def package(defn: Definition, out: Path = BUILD, dependencies: bool = True, python: str = LAMBDA_PYTHON) -> Path:
    """Write the assets; `python` is the CPython the wheels are for (the runtime's, unless a test builds
    for the interpreter it can run them under)."""
    glue = out / "glue"
    for folder in (glue, *(out / asset for asset in ASSETS)):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    for asset, requirements in ASSETS.items():
        lam = out / asset
        for package_dir in ("lakeward", "lambdas"):
            shutil.copytree(ROOT / package_dir, lam / package_dir, ignore=_SKIP)
        _definition(defn, lam)
        if dependencies:
            _vendor(lam, requirements, python)
            size = unzipped_bytes(lam)
            print(f"{lam}: {size:,} bytes unzipped + {LAYER_BYTES[asset]:,} in layers "
                  f"(Lambda allows {LAMBDA_LIMIT_BYTES:,})")
            if size + LAYER_BYTES[asset] >= LAMBDA_LIMIT_BYTES:
                print(f"warning: {lam} is over the Lambda size limit; see docs/aws.md, packaging", file=sys.stderr)
    _definition(defn, glue / "definition")
    with zipfile.ZipFile(glue / "lakeward.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted((ROOT / "lakeward").rglob("*.py")):
            zf.write(path, path.relative_to(ROOT).as_posix())
    return out


def unzipped_bytes(folder: Path) -> int:
    """What Lambda counts against its limit: every file as extracted (a symlink is a copy in a zip)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def unzipped_mb(folder: Path) -> float:
    return unzipped_bytes(folder) / 2**20


def _vendor(lam: Path, requirements: Path, python: str) -> None:
    # Wheels for the Lambda runtime (Amazon Linux 2023, x86_64) whatever machine builds them; no bytecode:
    # pip would compile it for the building interpreter, which is not the runtime's.
    platforms = [arg for tag in ("manylinux_2_28_x86_64", "manylinux2014_x86_64") for arg in ("--platform", tag)]
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
                    "--target", str(lam), *platforms, "--implementation", "cp", "--python-version", python,
                    "--only-binary=:all:", "--no-deps", "-r", str(requirements)], check=True)
    for pattern in TRIM:
        for path in lam.glob(pattern):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    _strip(lam)


def _strip(lam: Path) -> None:
    """Drop symbol tables and debug sections from the shared libraries (zstandard's and pyroaring's carry
    20 MB of DWARF); the dynamic symbols the loader and Python resolve stay, so no code changes."""
    libraries = sorted(str(p) for p in lam.rglob("*.so*") if p.is_file() and not p.is_symlink())
    strip = shutil.which("strip")
    if strip is None:
        print("warning: binutils' strip not found; shared libraries keep their symbols", file=sys.stderr)
    elif libraries:
        subprocess.run([strip, "--strip-unneeded", *libraries], check=True)


def _definition(defn: Definition, into: Path) -> None:
    """The definition, every SQL file it names and its quality rules, laid out relative to each other."""
    into.mkdir(parents=True, exist_ok=True)
    raw = yaml.safe_load(defn.path.read_text())
    sql_entries = [(m, "sql") for m in raw.get("marts", {}).values()]
    sql_entries += [(o, "staging_sql") for src in raw["sources"].values() for o in src["objects"].values()
                    if o.get("staging_sql")]
    for entry, key in sql_entries:
        source = defn.root / entry[key]  # an absolute path stays absolute under `/`
        rel = _relative(source.resolve(), defn.root.resolve())
        (into / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, into / rel)
        entry[key] = rel.as_posix()
    (into / "pipeline.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    rules = rules_folder(defn)
    if rules.is_dir():
        shutil.copytree(rules, into / rules.name, dirs_exist_ok=True)


def _relative(path: Path, root: Path) -> Path:
    for base in (root, ROOT):
        if path.is_relative_to(base):
            return path.relative_to(base)
    return Path("sql") / path.name


if __name__ == "__main__":
    from lakeward.load_definition import load_definition

    print(package(load_definition(ROOT / "pipeline.yaml"), dependencies="--code-only" not in sys.argv))
