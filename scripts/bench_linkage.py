"""Linkage quality and cost on a generated nation (issue 44): train the linkage model on the members without a
usable NIK against the registry persons no member's NIK matched, score the pairs, and measure against
truth/members: precision and recall of the automatic links, the share sent to review, the share of members
not in the registry linked to anyone, per province; wall seconds of training and scoring.

Reads the landing files directly (names are there; in the pipeline they are read from restricted storage):

    python scripts/bench_linkage.py --landing DIR [--upper 0.999] [--lower 0.5] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyspark.sql import functions as F  # noqa: E402

from jobs.core import nik, regions  # noqa: E402
from jobs.generate import world  # noqa: E402
from models import linkage  # noqa: E402
from runtime.config import load_config  # noqa: E402
from runtime.spark import get_spark  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landing", required=True)
    parser.add_argument("--upper", type=float, default=0.999)
    parser.add_argument("--lower", type=float, default=0.5)
    parser.add_argument("--out")
    parser.add_argument("--model-out", help="also write the trained model (settings, m and u: no record) here")
    args = parser.parse_args()
    config = load_config("local")
    spark = get_spark(config)  # the similarity functions' JAR is among the set-up JARs (.cache/jars)
    root = args.landing.rstrip("/")
    read = lambda name: spark.read.parquet(f"{root}/{name}")  # noqa: E731
    provinces = regions.load(config).provinces["province_code"]
    registry = read("registry")
    households = read("survey_households").select("household_id", "village_code", "kk_number")
    members = read("survey_members").join(households, "household_id")
    usable = nik.problem("nik", provinces, world.REFERENCE_DATE).isNull()
    found = members.where(usable).join(registry.select("nik"), "nik", "left_semi")
    matched_niks = found.select("nik").distinct()
    unmatched = members.join(found.select("household_id", "member_no"), ["household_id", "member_no"], "left_anti")
    left = linkage.side(unmatched, F.concat_ws(":", "household_id", "member_no"), F.col("full_name"),
                        F.col("birth_date"), F.col("sex"), F.col("village_code"), F.col("kk_number"),
                        F.col("nik")).cache()
    right = linkage.side(registry.join(matched_niks, "nik", "left_anti"), F.col("nik"), F.col("full_name"),
                         F.col("birth_date"), F.col("sex"), F.col("village_code"), F.col("kk_number"),
                         F.col("nik")).cache()
    n_left, n_right = left.count(), right.count()
    t0 = time.perf_counter()
    model = linkage.train(spark, left, right)
    t1 = time.perf_counter()
    pairs = linkage.predict(spark, left, right, model, args.lower)
    decided = linkage.decide(linkage.one_to_one(pairs), linkage.Thresholds(args.upper, args.lower)).cache()
    decided.count()
    t2 = time.perf_counter()
    truth = read("truth/members").select(F.concat_ws(":", "household_id", "member_no").alias("member_id"),
                                         "registry_nik")
    where = unmatched.select(F.concat_ws(":", "household_id", "member_no").alias("member_id"),
                             F.substring("village_code", 1, 2).alias("province_code"))
    judged = (truth.join(where, "member_id").join(decided, "member_id", "left")
              .withColumn("in_registry", F.col("registry_nik").isNotNull())
              .withColumn("linked", F.col("decision") == "LINK")
              .withColumn("true_link", F.col("linked") & (F.col("registry_id") == F.col("registry_nik"))))

    metrics = [
        F.count(F.lit(1)).alias("members"),
        F.count_if("in_registry").alias("in_registry"),
        F.count_if("linked").alias("links"),
        F.count_if("true_link").alias("true_links"),
        F.count_if(F.col("in_registry") & (F.col("decision") == "REVIEW")).alias("review"),
        F.count_if(~F.col("in_registry")).alias("absent"),
        F.count_if(~F.col("in_registry") & F.coalesce(F.col("linked"), F.lit(False))).alias("absent_linked"),
    ]

    def rates(row: dict) -> dict:
        row["precision"] = row["true_links"] / row["links"] if row["links"] else None
        row["recall"] = row["true_links"] / row["in_registry"] if row["in_registry"] else None
        row["review_share"] = row["review"] / row["in_registry"] if row["in_registry"] else None
        row["absent_linked_share"] = row["absent_linked"] / row["absent"] if row["absent"] else None
        return row

    sweep = {}
    for upper in (0.9, 0.95, 0.99, 0.995, 0.999, 0.9999):
        at = judged.withColumn("linked", F.col("match_probability") >= upper).withColumn(
            "decision", F.when(F.col("linked"), "LINK").when(F.col("decision").isNotNull(), "REVIEW")).withColumn(
            "true_link", F.col("linked") & (F.col("registry_id") == F.col("registry_nik")))
        sweep[upper] = rates(at.agg(*metrics).first().asDict())
    by_province = {r["province_code"]: rates(r.asDict()) for r in judged.groupBy("province_code").agg(*metrics)
                   .orderBy("province_code").collect()}
    result = {
        "landing": root, "upper": args.upper, "lower": args.lower, "left": n_left, "right": n_right,
        "train_s": round(t1 - t0, 1), "predict_s": round(t2 - t1, 1),
        "national": rates(judged.agg(*metrics).first().asDict()),
        "by_province": by_province,
        "by_upper_threshold": sweep,
        "parameters": [list(p) for p in linkage.parameters(model)],
        "lambda": model.get("probability_two_random_records_match"),
    }
    if args.model_out:
        Path(args.model_out).write_text(json.dumps(model, indent=2, sort_keys=True) + "\n")
    text = json.dumps(result, indent=2, default=str)
    if args.out:
        Path(args.out).write_text(text + "\n")
    national = result["national"]
    print(json.dumps({k: result[k] for k in ("left", "right", "train_s", "predict_s")} | national, default=str))
    for upper, row in sweep.items():
        print(f"upper {upper}: " + ", ".join(f"{k} {row[k]}" for k in (
            "precision", "recall", "review_share", "absent_linked_share")))
    worst = min((1.0 if v["recall"] is None else v["recall"], k) for k, v in result["by_province"].items())
    print(f"worst province recall: {worst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
