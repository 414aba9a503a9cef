"""Runtime plumbing shared by every job: Spark session, config, Delta I/O, run records."""
