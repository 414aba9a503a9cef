"""Refresh the region reference (conf/reference/idn-area-data) from the npm package idn-area-data.

    python scripts/refresh_regions.py --version 4.0.1 [--expect-counts 38,514,7285,83762]

Downloads the package with npm (the registry is the only network this needs), checks the code
formats and the hierarchy, shows the counts against the shipped version, and replaces the folder,
keeping the ODbL licence text and recording the source and version. Commit the result: codes change
when regions split, so the reference is versioned data.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jobs.core import regions  # noqa: E402

TARGET = ROOT / "conf" / "reference" / "idn-area-data"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", required=True, help="idn-area-data version, e.g. 4.0.1")
    parser.add_argument("--expect-counts", help="provinces,regencies,districts,villages the new list must have")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["npm", "pack", f"idn-area-data@{args.version}", "--silent"], cwd=tmp, check=True, capture_output=True
        )
        archive = next(Path(tmp).glob("idn-area-data-*.tgz"))
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        data = Path(tmp) / "package" / "data"
        problems = regions.check_formats(regions.read_raw(data))
        if problems:
            print("refusing: " + "; ".join(problems), file=sys.stderr)
            return 1
        staged = Path(tmp) / "staged"
        staged.mkdir()
        for level in regions.LEVELS:
            shutil.copy(data / f"{level}.csv", staged / f"{level}.csv")
        shutil.copy(data / "LICENSE.md", staged / "LICENSE.md")
        (staged / "VERSION").write_text(args.version + "\n")
        new = regions.load_reference(staged).counts()
        old = regions.load_reference(TARGET).counts() if TARGET.exists() else {}
        for level in regions.LEVELS:
            print(f"{level:<10} {old.get(level, 0):>7,} -> {new[level]:>7,}")
        if args.expect_counts:
            want = dict(zip(regions.LEVELS, map(int, args.expect_counts.split(",")), strict=True))
            if want != new:
                print(f"refusing: counts {new} differ from expected {want}", file=sys.stderr)
                return 1
        source = (TARGET / "SOURCE.md").read_text() if (TARGET / "SOURCE.md").exists() else ""
        shutil.copy(TARGET / "SOURCE.md", staged / "SOURCE.md") if source else None
        shutil.rmtree(TARGET, ignore_errors=True)
        shutil.copytree(staged, TARGET)
    print(f"{TARGET} now holds idn-area-data {args.version}; update SOURCE.md's counts and commit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
