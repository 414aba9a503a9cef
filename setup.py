"""dtks: Spark batch jobs that update Indonesia's social-welfare register (DTKS).

Versions are pinned as a set that is known to work together: delta-spark 4.4.0 supports
pyspark 4.0.1-4.2.0 (its JVM artifact delta-spark_4.2_2.13:4.4.0 is fetched by
scripts/fetch_delta_jars.sh); pyspark 4.2 is not fully supported on pandas 3, so pandas stays on 2.x.
"""

from setuptools import find_packages, setup

PYSPARK = "4.2.0"
DELTA = "4.4.0"

setup(
    name="dtks",
    version="0.1.0",
    description="DTKS register update pipeline: ingest, match, score, rank, publish",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["jobs", "jobs.*", "models", "models.*", "runtime", "runtime.*"]),
    # the report page's Jinja2 templates, its CSS and JavaScript and the vendored list.js (jobs/report)
    package_data={"jobs.report": ["templates/*", "assets/*"]},
    install_requires=[
        f"pyspark=={PYSPARK}",
        f"delta-spark=={DELTA}",
        "mlflow==3.17.2",
        "pandas==2.3.3",
        "pyarrow==25.0.1",
        "numpy==2.4.6",
        "scikit-learn==1.9.1",
        "matplotlib==3.11.2",
        "pydantic==2.14.4",
        "PyYAML==6.0.4",
        "rich==15.0.0",  # the live progress line on a terminal (runtime/console.py)
        "Jinja2==3.1.6",  # the report page's templates (jobs/report/templates)
        # `dtks status` reads a local lakehouse without starting Spark (its SQL path reads deletion vectors)
        "deltalake==1.6.6",
        # Probabilistic record linkage on Spark (models/linkage.py); its wheel carries the Spark 4 similarity
        # functions' JAR, copied into .cache/jars at set-up (it brings duckdb and sqlglot, unused by dtks).
        "splink==5.0.0",
    ],
    extras_require={
        "dev": [
            "pytest==9.2.0",
            "pytest-xdist==3.8.0",  # the suite on both cores (make test)
            "hypothesis==6.170.17",
            "chispa==0.12.0",
            "nbclient==0.11.0",
            "nbformat==5.11.1",
            "ipykernel==7.4.0",
            "ruff==0.17.5",
            "import-linter==2.17",  # the import boundaries (pyproject.toml, tests/test_boundaries.py)
        ],
        # scripts/bench_*.py: duckdb for the single-node baseline, psutil for the process tree's CPU and memory
        # (deltalake, which they read pipeline_runs and the tables' Delta logs with, is installed anyway)
        "bench": ["duckdb==2.0.1", "psutil==7.2.2"],
    },
    entry_points={"console_scripts": ["dtks=jobs.cli:main"]},
)
