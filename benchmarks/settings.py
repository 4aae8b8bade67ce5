"""Where things are: the repository, the scratch directory, the PostgreSQL server."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PG_DSN", "PG_SQLALCHEMY_URL", "REPO_ROOT", "RESULTS_DIR", "WORK_DIR"]

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Scratch space (Iceberg catalogs, floe projects, dlt pipelines); gitignored.
WORK_DIR = Path(os.environ.get("FLOE_BENCH_WORK_DIR", REPO_ROOT / "benchmarks" / ".work"))
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
#: libpq-style URL of the PostgreSQL server the database cases write to.
PG_DSN = os.environ.get("FLOE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
PG_SQLALCHEMY_URL = PG_DSN.replace("postgresql://", "postgresql+psycopg://", 1)
