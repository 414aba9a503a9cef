"""Build the JVM's class archive for dtks's local sessions (run once by `make setup`, after the JARs).

A cold JVM spends seconds finding and loading Spark's and Delta's classes, one JAR after another, in every
process dtks starts. Java's application class-data sharing (CDS) maps classes from an archive instead. The
archive is made here by a short Spark and Delta workload in a JVM started with -XX:ArchiveClassesAtExit,
through the session factory itself (runtime/spark.py), so its class path is the one the sessions use. It
depends on that class path and on this JDK: a session whose JVM cannot use it (the JARs fetched again, another
JDK) runs without it, unchanged (runtime/spark.py `class_archive_options`), and `make setup` makes it again
when the JARs or the packages change. Measured in docs/BENCHMARKS.md (the class archive).

    .venv/bin/python scripts/class_archive.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runtime import spark as spark_runtime  # noqa: E402


def workload(folder: Path) -> None:
    """What most dtks stages do, small: Delta writes, reads, a MERGE, Parquet, joins, windows, aggregates,
    Arrow to pandas. Runs in the child process whose JVM writes the archive when it exits."""
    from delta.tables import DeltaTable
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from runtime.config import load_config

    archive = folder / "classes.jsa"
    java = f"{spark_runtime.JVM_OPTIONS} -XX:ArchiveClassesAtExit={archive} -Xlog:cds=off,cds+dynamic=off"
    config = load_config("local", {"lakehouse_root": str(folder / "lake"),
                                   "spark": {"master": "local[2]", "shuffle_partitions": 2,
                                             "extra": {"spark.driver.extraJavaOptions": java}}})
    spark = spark_runtime.get_spark(config, class_archive=False)
    table, staged = str(folder / "lake" / "t"), str(folder / "staged")
    rows = spark.range(5000).selectExpr("id", "cast(id % 3 AS string) AS k", "id * 1.5 AS v",
                                        "date_add(DATE'2026-01-01', cast(id % 365 AS int)) AS d")
    rows.write.format("delta").partitionBy("k").save(table)
    read = spark.read.format("delta").load(table)
    read.groupBy("k").agg(F.sum("v"), F.countDistinct("id"), F.max_by("v", "id")).collect()
    ranked = read.withColumn("r", F.row_number().over(Window.partitionBy("k").orderBy(F.desc("d"))))
    ranked.where("r = 1").join(read.select("k", "id"), "k", "left_anti").count()
    read.join(read.groupBy("k").count(), "k").write.mode("overwrite").parquet(staged)
    source = spark.read.parquet(staged).where("id < 300").withColumn("v", F.col("v") + 1).drop("count")
    (DeltaTable.forPath(spark, table).alias("t").merge(source.alias("s"), "t.id = s.id")
     .whenMatchedUpdateAll().whenNotMatchedInsertAll().execute())
    DeltaTable.forPath(spark, table).delete("id > 4900")
    spark.read.format("delta").load(table).where("v > 10").toPandas()
    spark.sql(f"DESCRIBE HISTORY delta.`{table}`").collect()
    spark.createDataFrame([(1, "a")], "x int, y string").write.format("delta").mode("append").save(table + "2")
    spark.stop()


def main() -> int:
    target = spark_runtime.jars_dir() / spark_runtime.CLASS_ARCHIVE
    target.unlink(missing_ok=True)  # an archive of another class path or JDK is never built upon
    with tempfile.TemporaryDirectory(prefix="dtks-cds-") as tmp:
        folder = Path(tmp)
        # The JVM writes the archive as it exits: the workload runs in a process of its own.
        done = subprocess.run([sys.executable, __file__, "--workload", str(folder)], capture_output=True, text=True)
        archive = folder / "classes.jsa"
        if done.returncode != 0 or not archive.is_file():
            print(f"{done.stderr[-3000:]}\nthe class archive was not built (its workload's output above)",
                  file=sys.stderr)
            return 1
        shutil.move(archive, target)
    print(f"class archive in {target} ({target.stat().st_size / 2**20:.0f} MB)")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--workload":
        workload(Path(sys.argv[2]))
        sys.exit(0)
    sys.exit(main())
