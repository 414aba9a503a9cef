"""Whether a configured folder is on this machine: standard library only, so that `make clean`, which runs
before any package is installed, can use it too (scripts/clean.py through jobs/core/deliveries.py)."""


def is_local(path: str) -> bool:
    """A path on this machine's file system (no Spark needed to look at it), not an object-store URI."""
    return "://" not in path or path.startswith("file://")
