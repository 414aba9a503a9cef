"""Linkage quality of a lakehouse's last ingest against its generated nation's truth (issue 44): precision and
recall of the automatic links ingest made (silver_members, MATCHED_PROBABILISTIC), the share of members without a
usable NIK who are in the registry sent to review (linkage_review), the share of members not in the registry
linked to anyone; nationally and per province. Reads the tables ingest wrote, so it measures the pipeline itself
(the pinned version, the registry's name frequencies, the review rule); scripts/bench_linkage.py measures the
model alone on the landing files.

    python scripts/judge_linkage.py --lakehouse LAKE --truth LANDING/truth/members [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyspark.sql import functions as F  # noqa: E402

from jobs.core import contract, nik  # noqa: E402
from jobs.ingest import linking  # noqa: E402
from jobs.ingest.link_training import truth_tokens  # noqa: E402
from runtime import tables  # noqa: E402
from runtime.config import load_config, nik_key_source  # noqa: E402
from runtime.spark import get_spark  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lakehouse", required=True)
    parser.add_argument("--truth", required=True)
    parser.add_argument("--out")
    args = parser.parse_args()
    config = load_config("local", overrides=[f"lakehouse_root={args.lakehouse}"])
    spark = get_spark(config)
    nik.register(spark, nik_key_source(config))
    members = tables.read(spark, config, tables.MEMBERS).where(
        F.col("match_status").isin(*contract.UNMATCHED, contract.MATCHED_PROBABILISTIC)).cache()
    links = members.where(F.col("match_status") == contract.MATCHED_PROBABILISTIC).select(
        "household_id", "member_no", F.col("nik_token").alias("linked_token"))
    review = tables.read(spark, config, tables.LINKAGE_REVIEW)
    truth = truth_tokens(spark, args.truth).cache()
    found = linking.Links(links, review)
    result = {"national": linking.quality(found, members, truth),
              "by_province": linking.quality(found, members, truth, by="province_code")}
    text = json.dumps(result, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(json.dumps(result["national"]))
    worst = min((v["recall"], k) for k, v in result["by_province"].items() if v["in_registry"] and v["links"])
    print(f"worst province recall: {worst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
