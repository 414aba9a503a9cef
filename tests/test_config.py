from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from runtime.config import DEFAULT_CONF_DIR, ENVIRONMENTS, ConfigError, DtksConfig, load_config, nik_key

SHIPPED_BASE = yaml.safe_load((DEFAULT_CONF_DIR / "base.yaml").read_text())
SET_BY_LOADER = {"env", "conf_dir"}  # load_config sets them; no file does


def _merged(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def write_conf(folder: Path, base: str, overlay: str = "") -> Path:
    """A conf folder: the shipped base.yaml (it holds every key) with `base`'s keys over it; `overlay` as
    local.yaml."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "base.yaml").write_text(yaml.safe_dump(_merged(SHIPPED_BASE, yaml.safe_load(base) or {})))
    (folder / "local.yaml").write_text(overlay)
    return folder


def _fields(model: type[BaseModel], prefix: str = ""):
    """Every key of a config model, dotted, with its field, the keys of the models within it too."""
    for name, field in model.model_fields.items():
        yield prefix + name, field
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            yield from _fields(field.annotation, f"{prefix}{name}.")


def _in(tree: dict, key: str) -> bool:
    for part in key.split("."):
        if not isinstance(tree, dict) or part not in tree:
            return False
        tree = tree[part]
    return True


def test_no_default_is_written_both_in_a_config_model_and_in_base_yaml():
    """A key with a default in runtime/config.py's models must not have one in conf/base.yaml too."""
    both = [key for key, field in _fields(DtksConfig) if not field.is_required() and _in(SHIPPED_BASE, key)]
    assert not both, f"defaults written in runtime/config.py and in conf/base.yaml: {both}"


def test_base_yaml_holds_every_default_and_the_models_none():
    """The rule kept (runtime/config.py, docs/ARCHITECTURE.md): each key's default is in base.yaml, the models
    only type and check it; the loader alone sets env and conf_dir."""
    keys = dict(_fields(DtksConfig))
    assert [key for key, field in keys.items() if not field.is_required()] == []
    assert [key for key in keys if not _in(SHIPPED_BASE, key) and key not in SET_BY_LOADER] == []
    assert [key for key in SET_BY_LOADER if _in(SHIPPED_BASE, key)] == []


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_an_environment_overlay_only_overrides_keys_of_base_yaml(env):
    """conf/<env>.yaml sets no key base.yaml lacks and none to the value base.yaml already gives it."""
    overlay = yaml.safe_load((DEFAULT_CONF_DIR / f"{env}.yaml").read_text()) or {}

    def check(model: type[BaseModel], over: dict, base: dict, prefix: str) -> None:
        for key, value in over.items():
            dotted, field = prefix + key, model.model_fields.get(key)
            assert field is not None and key in base, f"{env}.yaml: {dotted} is not a key of base.yaml"
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                check(field.annotation, value, base[key], dotted + ".")
                continue
            merged = _merged(base[key], value) if isinstance(value, dict) and isinstance(base[key], dict) else value
            assert merged != base[key], f"{env}.yaml: {dotted} restates base.yaml's value {base[key]!r}"

    check(DtksConfig, overlay, SHIPPED_BASE, "")


def test_a_key_missing_from_base_yaml_is_named_with_the_file(tmp_path):
    conf = write_conf(tmp_path, "")
    text = yaml.safe_load((conf / "base.yaml").read_text())
    del text["spark"]["ui_enabled"], text["layout"]
    (conf / "base.yaml").write_text(yaml.safe_dump(text))
    with pytest.raises(ConfigError) as err:
        load_config("local", conf_dir=conf)
    assert f"{conf / 'base.yaml'}: key 'layout': missing" in str(err.value)
    assert f"{conf / 'base.yaml'}: key 'spark.ui_enabled': missing" in str(err.value)


def test_spark_ui_is_off_unless_an_environment_turns_it_on():
    assert [load_config(env).spark.ui_enabled for env in ENVIRONMENTS] == [False, False, True]


def test_the_queue_settings_name_each_reason_of_the_queue_once(tmp_path, monkeypatch, capsys):
    """queue.deadline_days and queue.priority are checked against the queue's reasons (jobs/core/verification.py)
    by the queue (jobs/publish/queue.py), naming the key and the file that set it; `dtks run` checks them before
    its first stage."""
    from jobs.cli import main
    from jobs.core.verification import REASONS
    from jobs.publish.queue import settings

    shipped = load_config("test")
    assert settings(shipped) == shipped.queue and list(shipped.queue.deadline_days) == list(REASONS)
    typo = write_conf(tmp_path / "typo", "", "queue:\n  deadline_days:\n    SANGAH: 7\n")
    with pytest.raises(ConfigError, match=rf"^{typo / 'local.yaml'}: key 'queue.deadline_days.SANGAH': not a reason"):
        settings(load_config("local", conf_dir=typo))
    with pytest.raises(ConfigError, match=r"^command line: key 'queue.priority': must name each of SANGGAH, USUL,"):
        settings(load_config("test", overrides=['queue.priority=["USUL", "SANGGAH"]']))
    gap = write_conf(tmp_path / "gap", "")
    text = yaml.safe_load((gap / "base.yaml").read_text())
    del text["queue"]["deadline_days"]["NEAR_CUTOFF"]
    (gap / "base.yaml").write_text(yaml.safe_dump(text))
    with pytest.raises(ConfigError, match=rf"^{gap / 'base.yaml'}: key 'queue.deadline_days': no deadline for NEAR_CU"):
        settings(load_config("local", conf_dir=gap))
    with pytest.raises(ConfigError, match=r"command line: key 'queue.deadline_days.SANGGAH': Input should be greater"):
        load_config("test", overrides=["queue.deadline_days.SANGGAH=0"])

    monkeypatch.chdir(tmp_path)
    assert main(["run", "--env", "test", "--set", 'queue.priority=["USUL"]']) == 2
    assert "command line: key 'queue.priority': must name each of" in capsys.readouterr().err
    assert not (tmp_path / "landing").exists() and not (tmp_path / "lakehouse").exists()  # no stage started


def test_overlay_merges_over_base_and_keeps_defaults(tmp_path):
    conf = write_conf(
        tmp_path, "ranking:\n  coverage_target: 0.4\nspark:\n  master: local[1]\n", "spark:\n  master: local[2]\n"
    )
    cfg = load_config("local", conf_dir=conf)
    assert cfg.spark.master == "local[2]"
    assert cfg.ranking.coverage_target == 0.4
    assert cfg.spark.app_name == "dtks"  # default kept


def test_shipped_envs_load():
    for env in ("local", "test", "cluster"):
        cfg = load_config(env)
        assert cfg.env == env
    assert load_config("cluster").security.local_key_file is None
    assert load_config("test").spark.shuffle_partitions == 2


def test_unknown_key_names_key_and_file(tmp_path):
    conf = write_conf(tmp_path, "spark:\n  mastr: local[2]\n")
    with pytest.raises(ConfigError) as err:
        load_config("local", conf_dir=conf)
    assert "spark.mastr" in str(err.value)
    assert str(conf / "base.yaml") in str(err.value)


def test_bad_value_names_key_and_overlay_file(tmp_path):
    conf = write_conf(tmp_path, "", "ranking:\n  coverage_target: 1.5\n")
    with pytest.raises(ConfigError) as err:
        load_config("local", conf_dir=conf)
    message = str(err.value)
    assert "ranking.coverage_target" in message and str(conf / "local.yaml") in message
    assert "1.5" in message


def test_wrong_type_from_command_line_override(tmp_path):
    conf = write_conf(tmp_path, "")
    with pytest.raises(ConfigError, match=r"command line: key 'generate.households'"):
        load_config("local", overrides=["generate.households=many"], conf_dir=conf)
    assert load_config("local", overrides=["generate.households=500"], conf_dir=conf).generate.households == 500


def test_unknown_env_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="unknown environment"):
        load_config("prod")
    write_conf(tmp_path, "")
    (tmp_path / "local.yaml").unlink()
    with pytest.raises(ConfigError, match="local.yaml: config file not found"):
        load_config("local", conf_dir=tmp_path)


def test_nik_key_from_environment_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DTKS_NIK_KEY", "k" * 40)
    assert nik_key(load_config("cluster")) == b"k" * 40
    monkeypatch.delenv("DTKS_NIK_KEY")
    with pytest.raises(ConfigError, match="DTKS_NIK_KEY is not set"):
        nik_key(load_config("cluster"))
    monkeypatch.setenv("DTKS_NIK_KEY", "short")
    with pytest.raises(ConfigError, match="at least 32"):
        nik_key(load_config("cluster"))


def test_local_demo_creates_owner_only_key_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DTKS_NIK_KEY", raising=False)
    cfg = load_config("local")
    first = nik_key(cfg)
    path = tmp_path / ".secrets" / "nik_hmac.key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(first) == 64 and nik_key(cfg) == first
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="owner only"):
        nik_key(cfg)


def test_regions_make_a_trial_apart_from_the_nation(tmp_path, monkeypatch):
    from jobs.cli import build_parser
    from runtime.stage import context_from_args

    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(["ingest", "--env", "test", "--regions", "32.01, 31"])  # dotted or plain
    cfg = context_from_args(args).config
    assert cfg.trial.regions == ("31", "3201") and cfg.is_trial
    assert cfg.lakehouse == str(tmp_path / "trials" / "31-3201" / "lakehouse")
    assert cfg.landing.root == "trials/31-3201/landing"
    assert cfg.mlflow.model_name == "dtks_pmt_trial_31_3201"
    assert cfg.mlflow.experiment == "dtks-ranking-trial-31-3201"
    national = load_config("test")
    assert not national.is_trial and national.mlflow.model_name == "dtks_pmt"
    assert load_config("test", overrides=['trial.regions=["32.01", "3201", "31"]']).trial.regions == ("31", "3201")
    for bad in ("3x", "3.201", "32.01.10"):  # not a province or regency, in either notation
        with pytest.raises(ConfigError, match=r"command line: key 'trial.regions'.*2-digit provinces"):
            load_config("test", overrides=[f'trial.regions=["{bad}"]'])
    with pytest.raises(ConfigError, match="would put the trial on the national tables"):
        load_config("test", overrides=['trial.regions=["31"]', "trial.root=.", "lakehouse_root=lakehouse"])


def test_rule_files_are_checked_by_their_own_models_naming_file_and_key(tmp_path):
    from runtime import questionnaire

    shipped = load_config("test")
    text = shipped.conf_file(shipped.questionnaire_file).read_text()
    bad = tmp_path / "questionnaire.yaml"
    bad.write_text(text.replace("floor_area:        {type: float", "floor_area:        {type: decimal"))
    with pytest.raises(ConfigError, match=rf"^{bad}: key 'household.floor_area.type': Input should be 'int'"):
        questionnaire.load_file(shipped.model_copy(update={"questionnaire_file": str(bad)}))
    bad.write_text(text.replace("region_effects: [province_code, is_urban]", "region_effects: [is_urban]"))
    with pytest.raises(ConfigError, match=r"key 'model': region_effects must start with 'province_code'"):
        questionnaire.load_file(shipped.model_copy(update={"questionnaire_file": str(bad)}))
    bad.write_text(text.replace("features: [head_education, share_working_formal]", "features: [head_education]"))
    with pytest.raises(ConfigError, match=r"key 'model': groups: share_working_formal is in no group"):
        questionnaire.load_file(shipped.model_copy(update={"questionnaire_file": str(bad)}))
    bad.write_text(text.replace("features: [province_code, is_urban]", "features: [province_code, is_urban, car]"))
    with pytest.raises(ConfigError, match=r"key 'model': groups: car is in two groups"):
        questionnaire.load_file(shipped.model_copy(update={"questionnaire_file": str(bad)}))
    first = questionnaire.load_file(shipped)
    assert first.model.group_of()["car"] == "assets" and first.model.group_of()["is_urban"] == "region"
    assert first.model.group_labels()["assets"] == ("Kepemilikan aset", "assets")
    assert questionnaire.load_file(shipped) is first  # parsed once while the file is unchanged
    assert first.model.features[:2] == ("log_hh_size", "log_floor_area_per_capita")


def test_a_stage_flag_is_a_config_override_checked_by_the_same_model(tmp_path, monkeypatch):
    from jobs.cli import build_parser
    from runtime.stage import context_from_args

    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(["publish", "--env", "test", "--coverage", "0.4"])
    assert args.overrides == ["ranking.coverage_target=0.4"] and not hasattr(args, "coverage")
    assert context_from_args(args).config.ranking.coverage_target == 0.4
    args = build_parser().parse_args(["publish", "--env", "test", "--coverage", "1.5"])
    with pytest.raises(ConfigError, match=r"command line: key 'ranking.coverage_target': .* less than or equal to 1"):
        context_from_args(args)


def test_a_configured_folder_on_an_object_store_keeps_its_uri(tmp_path, monkeypatch):
    """Spark and Hadoop take `s3a://bucket/x`; a pathlib path would fold it to `s3a:/bucket/x`, a path
    without its bucket. A local folder is resolved from the working directory; `file://` is local."""
    from runtime.locations import is_local

    monkeypatch.chdir(tmp_path)
    config = load_config("test")
    for uri in ("s3a://bucket/landing", "abfss://c@account.dfs.core.windows.net/landing", "gs://b/x"):
        assert config.location(uri) == uri and not is_local(uri)
    assert config.location("landing") == str(tmp_path / "landing") and is_local("landing")
    assert config.location(f"file://{tmp_path}/x") == str(tmp_path / "x") and is_local(f"file://{tmp_path}/x")
