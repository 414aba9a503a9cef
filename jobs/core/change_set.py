"""How a change set names its columns, for the modules that make one (ingest's silver change sets, score's,
jobs/publish/gold.py) and those that read it (jobs/policy/reasons.py, jobs/publish/queue.py).

A change set is the rows a MERGE applies: `DELETE` flags a row the MERGE removes, `NEW` a row whose key the
table does not hold (appended, not MERGEd: runtime/tables.py `merge_changes`), and `was(column)` holds beside a
row what the table (or the previous publication) held in that column.
"""

from __future__ import annotations

DELETE = "_delete"
NEW = "_new"


def was(column: str) -> str:
    """The name of what the previous publication held in `column`, beside this run's rows."""
    return f"_was_{column}"


# What program_eligibility held, beside its change set: whether eligible, and under which rule version.
WAS_ELIGIBLE, WAS_RULE = was("eligible"), was("rule")
WAS = (WAS_ELIGIBLE, WAS_RULE)
