"""The clerical review of linkage pairs (`linkage_review`): why a pair is reviewed and where its decision
stands. Ingest writes the pairs (jobs/ingest/linking.py) and applies the offices' decisions on them
(`linkage_decisions`); publish queues the households of pending pairs (LINKAGE_REVIEW)."""

from __future__ import annotations

# Why a pair is reviewed rather than linked (review_reason).
UNCERTAIN = "UNCERTAIN"  # its probability is between linkage.lower and linkage.upper
LINK_TO_DECEASED = "LINK_TO_DECEASED"  # above linkage.upper, but the registry records the person's death by the
#                                        interview: a probabilistic link alone never makes a member DECEASED
# Where its decision stands (review_status): a pair in the table awaits one; a decided pair leaves it.
PENDING = "PENDING"
# A regional office's decision (the linkage_decisions landing source): the member is that person (the next round
# links them, whatever the probability), or is not (the pair is never scored again).
CONFIRM, REJECT = "CONFIRM", "REJECT"
DECISIONS = (CONFIRM, REJECT)
