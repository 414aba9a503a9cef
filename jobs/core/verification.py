"""The verification queue's vocabulary: an entry's statuses and the reasons it is queued for, with the words
the report shows for them. Publish builds the queue with them (jobs/publish/queue.py, which says when each
applies and checks that `queue.deadline_days` and `queue.priority` in the config name each reason); the report
counts the queue by them. `REASONS` is the one list of the reasons.
"""

from __future__ import annotations

from jobs.core.contract import SANGGAH, USUL

OPEN, RESURVEYED, RESOLVED, LAPSED = "OPEN", "RESURVEYED", "RESOLVED", "LAPSED"
CLOSED = (RESURVEYED, RESOLVED, LAPSED)
NEAR_CUTOFF, STALE, CURBSTONING, REGISTRY_EVENT = "NEAR_CUTOFF", "STALE_INTERVIEW", "CURBSTONING", "REGISTRY_EVENT"
LINKAGE_REVIEW = "LINKAGE_REVIEW"
REASONS = {
    SANGGAH: "objection (sanggah) to the household's eligibility",
    USUL: "proposal (usul): missing from the register, or listed and not eligible",
    CURBSTONING: "interviewed by an enumerator suspected of curbstoning",
    REGISTRY_EVENT: "registry event: head died, moved or on a new KK",
    LINKAGE_REVIEW: "a member without a usable NIK may be a registry person: confirm or reject the pair",
    NEAR_CUTOFF: "close to the coverage cut-off",
    STALE: "stale interview",
}
