"""The Spark settings a stage runs with follow the nation's size on disk (runtime/sizing.py)."""

from __future__ import annotations

import pytest

from runtime import sizing, tables
from runtime.config import ConfigError, load_config
from tests.conftest import make_config

# A setting the session has (the test config's 2) and one it lacks, so both ways back are seen.
SQL = {"spark.sql.shuffle.partitions": "7", "spark.sql.dtks.sizing.probe": "on"}


def _config(tmp_path, max_mb: float):
    return make_config(tmp_path, spark={"small_input": {"max_mb": max_mb, "sql": SQL}})


def _settings(spark) -> tuple[str | None, str | None]:
    return tuple(spark.conf.get(key, None) for key in SQL)


def _file(path, mb: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * int(mb * sizing.MB))


def test_a_small_nation_runs_with_the_small_input_settings_and_a_large_one_with_the_sessions(spark, tmp_path):
    config = _config(tmp_path, max_mb=1)
    own = _settings(spark)
    assert own == ("2", None)
    fitted = sizing.Fitted(spark, config)
    try:
        _file(tmp_path / "landing" / "registry" / "part-0.parquet", 0.4)
        assert sizing.nation_mb(spark, config) == pytest.approx(0.4, abs=0.01)
        assert fitted.fit() and _settings(spark) == ("7", "on")
        # generate's landing zone is its output: the session's own settings, whatever is there
        assert not fitted.fit(sized=False) and _settings(spark) == own
        assert fitted.fit()
        # an update round's small delivery still works against national tables: the larger of the two counts
        _file(tmp_path / "lake" / tables.MEMBERS / "part-0.parquet", 1.5)
        assert sizing.nation_mb(spark, config) == pytest.approx(1.5, abs=0.01)
        assert not fitted.fit() and _settings(spark) == own
    finally:
        fitted.fit(sized=False)
    assert _settings(spark) == own


def test_a_stage_that_makes_its_nation_is_fitted_by_the_size_it_gives(spark, tmp_path):
    """generate: its landing zone is its output, so its size on disk says nothing before it runs."""
    config = _config(tmp_path, max_mb=1)
    own = _settings(spark)
    fitted = sizing.Fitted(spark, config)
    try:
        _file(tmp_path / "landing" / "registry" / "part-0.parquet", 1.5)  # the nation it replaces
        assert fitted.fit(mb=0.4) and _settings(spark) == ("7", "on")
        assert not fitted.fit(mb=1.5) and _settings(spark) == own
        assert not fitted.fit(sized=False, mb=0.4) and _settings(spark) == own
    finally:
        fitted.fit(sized=False)
    assert _settings(spark) == own


def test_max_mb_0_never_applies_them(spark, tmp_path):
    config = _config(tmp_path, max_mb=0)
    fitted = sizing.Fitted(spark, config)
    assert sizing.nation_mb(spark, config) == 0  # neither folder exists yet
    assert not fitted.fit() and _settings(spark) == ("2", None)


def test_only_sql_settings_can_follow_the_size(tmp_path):
    """A setting Spark reads once, at start-up (memory, JVM options), cannot change between stages."""
    with pytest.raises(ConfigError, match=r"key 'spark.small_input.sql'.*spark.driver.memory: only spark.sql"):
        load_config("test", {"spark": {"small_input": {"sql": {"spark.driver.memory": "1g"}}}})


def test_a_national_folder_is_counted_only_up_to_the_limit(spark, tmp_path):
    config = _config(tmp_path, max_mb=1)
    for i in range(4):
        _file(tmp_path / "landing" / f"registry_{i}" / "part-0.parquet", 0.4)
    (tmp_path / "landing" / "gone.parquet").symlink_to(tmp_path / "nowhere.parquet")  # counts nothing
    assert sizing.nation_mb(spark, config) == pytest.approx(1.6, abs=0.01)
    assert 1 <= sizing.nation_mb(spark, config, limit_mb=1) < 1.6
    assert not sizing.Fitted(spark, config).fit()
