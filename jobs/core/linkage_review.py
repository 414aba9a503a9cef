"""The clerical review of linkage pairs (`linkage_review`): why a pair is reviewed and where its decision
stands. Ingest writes the pairs (jobs/ingest/linking.py); publish queues their households (LINKAGE_REVIEW)."""

from __future__ import annotations

# Why a pair is reviewed rather than linked (review_reason).
UNCERTAIN = "UNCERTAIN"  # its probability is between linkage.lower and linkage.upper
LINK_TO_DECEASED = "LINK_TO_DECEASED"  # above linkage.upper, but the registry records the person's death by the
#                                        interview: a probabilistic link alone never makes a member DECEASED
# Where its decision stands (review_status).
PENDING = "PENDING"
