"""Kemendagri region codes in their two notations, which name the same region wherever a code is read.

dtks carries codes as plain digits (village ``PPKKCCDDDD``); Kemendagri writes them dotted
(``PP.KK.CC.DDDD``, e.g. ``11.06.10.2041``), and so do many providers. A code in the dotted notation,
at any level (province ``11``, regency ``11.06``, district ``11.06.10``, village ``11.06.10.2041``), is
read as its plain digits; anything else is kept as given, for the reader's own check to judge. Here,
below the config and the steps, because the config (``trial.regions``), the CLI and ingest all read codes.
"""

from __future__ import annotations

import re

from pyspark.sql import Column
from pyspark.sql import functions as F

DOTTED = r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$"  # Java and Python regular expressions alike


def plain(code: str) -> str:
    """`11.06.10.2041` -> `1106102041`, `32.01` -> `3201`; any other text stripped and otherwise as given."""
    code = code.strip()
    return code.replace(".", "") if re.fullmatch(DOTTED, code) else code


def plain_column(code: Column) -> Column:
    """`plain` for a column of codes (null stays null); a code without a dot is not looked at further."""
    return F.when(F.instr(code, ".") > 0, F.when(code.rlike(DOTTED), F.regexp_replace(code, r"\.", "")).otherwise(code)
                  ).otherwise(code)
