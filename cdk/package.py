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
# What the functions never import, removed from the vendored wheels: Lambda allows 250 MB unzipped.
TRIM = ["*/tests", "*/__pycache__", "**/*.pyi", "**/*.pxd", "**/*.pyx", "pyarrow/include", "pyarrow/src",
        "pyarrow/libarrow_flight.so*", "pyarrow/libarrow_substrait.so*", "pyarrow/_flight*", "pyarrow/_substrait*",
        "numpy/_core/include", "numpy/f2py", "*.dist-info", "hive_metastore", "fb303"]
LAMBDA_LIMIT_MB = 250


def package(defn: Definition, out: Path = BUILD, dependencies: bool = True) -> Path:
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
            _vendor(lam, requirements)
            size = unzipped_mb(lam)
            print(f"{lam}: {size:.0f} MB unzipped (Lambda allows {LAMBDA_LIMIT_MB} MB with layers)")
            if size > LAMBDA_LIMIT_MB:
                print(f"warning: {lam} is over the Lambda size limit; see docs/aws.md, packaging", file=sys.stderr)
    _definition(defn, glue / "definition")
    with zipfile.ZipFile(glue / "lakeward.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted((ROOT / "lakeward").rglob("*.py")):
            zf.write(path, path.relative_to(ROOT).as_posix())
    return out


def unzipped_mb(folder: Path) -> float:
    """What Lambda counts against its limit: every file as extracted (a symlink is a copy in a zip)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def _vendor(lam: Path, requirements: Path) -> None:
    # Wheels for the Lambda runtime (Amazon Linux 2023, x86_64, CPython 3.12) whatever machine builds them.
    platforms = [arg for tag in ("manylinux_2_28_x86_64", "manylinux2014_x86_64") for arg in ("--platform", tag)]
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--target", str(lam), *platforms, "--implementation", "cp", "--python-version", LAMBDA_PYTHON,
                    "--only-binary=:all:", "--no-deps", "-r", str(requirements)], check=True)
    for pattern in TRIM:
        for path in lam.glob(pattern):
            shutil.rmtree(path) if path.is_dir() else path.unlink()


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
