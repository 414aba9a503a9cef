"""Scoring and ranking throughput: native expressions vs mlflow spark_udf vs a no-op pass, and the
national ranking, on N synthetic households (features drawn in Spark, so nothing grows on the driver).

    python scripts/bench_scoring.py --households 1000000 --model-uri models:/dtks_pmt@champion \
        --tracking-uri sqlite:///mlruns/mlflow.db

Prints a table (and with --json writes the figures: what scripts/bench_pipeline.py --scoring reads);
goals live in scripts/bench_pipeline.py, never in timed tests.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import mlflow
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.policy import ranking
from models.compile import spark_expression
from runtime.config import load_config
from runtime.spark import get_spark


def synthetic_features(spark, n: int, columns: list[str], dtypes: dict[str, str]) -> DataFrame:
    """Plausible values for every model input: small integer codes, shares, logs, provinces."""
    exprs = []
    for i, name in enumerate(columns):
        u = F.abs(F.xxhash64(F.col("id"), F.lit(i))) % 1000 / 1000.0
        kind = dtypes[name]
        if name == "province_code":
            exprs.append(F.lpad((F.lit(11) + (u * 80).cast("int")).cast("string"), 2, "0").alias(name))
        elif kind == "boolean":
            exprs.append((u < 0.3).alias(name))
        elif kind in ("integer", "long"):
            low = 1 if name.endswith("material") else 0
            exprs.append((low + u * 4).cast(kind).alias(name))
        else:
            exprs.append((u * 3).cast("double").alias(name))
    return spark.range(n).select(
        F.format_string("H%010d", "id").alias("household_id"),
        *exprs,
        (1 + F.abs(F.xxhash64("id")) % 7).cast("int").alias("hh_size"),
    )


def timed(df: DataFrame, first: dict[str, float], name: str, repeat: int = 3) -> float:
    """Median of `repeat` runs (JIT warmed); the first run, which pays code generation and JIT, goes to `first`."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        df.write.format("noop").mode("overwrite").save()
        times.append(time.perf_counter() - t0)
    first[name] = times[0]
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--model-uri", default="models:/dtks_pmt@champion")
    parser.add_argument("--tracking-uri", default="sqlite:///mlruns/mlflow.db")
    parser.add_argument("--udf-households", type=int, default=200_000, help="spark_udf is slow: a smaller N")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    spark = get_spark(load_config("local"))
    mlflow.set_tracking_uri(args.tracking_uri)
    mlflow.set_registry_uri(args.tracking_uri)
    info = mlflow.models.get_model_info(args.model_uri)
    schema = info.signature.inputs
    columns = schema.input_names()
    dtypes = {
        c.name: {"long": "long", "integer": "integer", "boolean": "boolean", "string": "string"}.get(
            c.type.name, "double"
        )
        for c in schema.inputs
    }
    n = args.households
    base = synthetic_features(spark, n, columns, dtypes).persist()
    base.count()
    rows = []
    first: dict[str, float] = {}
    noop = timed(base.select("household_id", F.lit(0.0).alias("welfare_score")), first, "no-op pass")
    rows.append(("no-op pass", n, noop))
    # the same rows with every model input read and passed on, nothing computed
    passing = timed(base.select("household_id", *columns), first, "pass-through of inputs")
    rows.append(("pass-through of inputs", n, passing))
    native = spark_expression(args.model_uri)
    t_native = timed(base.select("household_id", native.alias("welfare_score")), first, "native expressions")
    rows.append(("native expressions", n, t_native))
    udf = mlflow.pyfunc.spark_udf(spark, args.model_uri, result_type="double", env_manager="local")
    small = base.limit(args.udf_households).persist()
    small.count()
    t_udf = timed(small.select("household_id", udf(F.struct(*[F.col(c) for c in columns])).alias("welfare_score")),
                  first, "mlflow spark_udf")
    rows.append(("mlflow spark_udf", args.udf_households, t_udf))
    scored = base.select("household_id", "hh_size", native.alias("welfare_score"))
    t0 = time.perf_counter()
    ranked = ranking.rank_nationally(scored, population=int(n * 4.2), coverage_target=0.6)
    ranked.write.format("noop").mode("overwrite").save()
    rows.append(("national ranking (score + rank)", n, time.perf_counter() - t0))
    print(f"{'step':<34}{'rows':>12}{'seconds':>10}{'rows/s':>14}")
    for name, count, sec in rows:
        print(f"{name:<34}{count:>12,}{sec:>10.2f}{count / sec:>14,.0f}")
    print("(seconds: median of 3 runs) first runs: " + ", ".join(f"{k} {v:.2f} s" for k, v in first.items()))
    if args.json:
        steps = {name: {"rows": count, "seconds": sec} for name, count, sec in rows}
        Path(args.json).write_text(json.dumps({"steps": steps, "first_runs": first}, indent=2))
    print(
        f"native / spark_udf throughput: {(n / t_native) / (args.udf_households / t_udf):.1f}x; "
        f"native / no-op time: {t_native / noop:.2f}x; native / pass-through time: {t_native / passing:.2f}x"
    )


if __name__ == "__main__":
    main()
