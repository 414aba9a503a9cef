"""`dtks maintain`'s retention rule (jobs/maintain/stage.py `vacuum_hours`): the files of the versions the
latest publication pins are never vacuumed, whatever the configured retention. The whole command is proven
once, on rounds of the test nation, in tests/test_update.py::test_rounds_equal_a_full_round_then_maintain_keeps_it."""

from __future__ import annotations

import pytest

from jobs.maintain.stage import vacuum_hours


@pytest.mark.parametrize(("configured", "age", "expected"), [
    (720.0, None, 720.0),  # a table no publication pins: the configured retention
    (720.0, 2.5, 720.0),  # pinned a few hours ago: the configured retention already keeps its files
    (0.0, 2.5, 4.0),  # retention 0 (tests, or a hurried operator): the pinned version's age, rounded up, plus one
    (720.0, 900.2, 902.0),  # a second maintain 37 days after the last publish: still kept
    (0.0, 0.0, 1.0),
])
def test_the_published_versions_files_outlive_the_retention(configured, age, expected):
    assert vacuum_hours(configured, age) == expected
