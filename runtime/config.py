"""The one config loader: conf/base.yaml + conf/<env>.yaml (+ command-line overrides), validated.

Every key is typed and unknown keys are refused, so a typo fails at start-up rather than silently
falling back to a default. Errors name the key and the file that set it.

Every default is in conf/base.yaml, and only there: the models below declare each key's type and checks and
no value (each field is required), the environment overlays and `--set` only override. The loader alone
sets `env` and `conf_dir`. A check that needs a rule's vocabulary (e.g. the queue's reasons) is made where
the rule lives, above this floor, with `DtksConfig.invalid` naming the key and its file
(tests/test_config.py holds the models and base.yaml to this).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from runtime import region_codes
from runtime.locations import is_local

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONF_DIR = PROJECT_ROOT / "conf"
ENVIRONMENTS = ("local", "test", "cluster")


RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def check_run_id(run_id: str) -> str:
    """A run id names folders (reports/<run id>, <lakehouse>/_staging/<run id>, removed at a stage's end) and
    a partition filter: a plain name only, or `..` and `/` would walk out of them. ValueError otherwise."""
    if not RUN_ID.fullmatch(run_id):
        raise ValueError(f"run id {run_id!r}: letters, digits, '-' and '_' only (at most 64, starting with a "
                         "letter or digit)")
    return run_id


class ConfigError(ValueError):
    """A config value a user can fix: the message names the key and the file."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LandingConfig(_Strict):
    root: str
    format: Literal["parquet", "csv"]


class SmallInputConfig(_Strict):
    max_mb: float = Field(ge=0.0, description="0: never")
    sql: dict[str, str]

    @field_validator("sql")
    @classmethod
    def _runtime_keys(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not key.startswith("spark.sql."):
                raise ValueError(f"{key}: only spark.sql.* settings can change between the stages of one session")
        return value


class SparkConfig(_Strict):
    app_name: str
    master: str
    shuffle_partitions: int | None = Field(ge=1, description="null: 2 x cores")
    ui_enabled: bool
    driver_memory: str
    extra: dict[str, str]
    small_input: SmallInputConfig


class MlflowConfig(_Strict):
    tracking_uri: str
    artifact_root: str
    experiment: str
    model_name: str


class RankingConfig(_Strict):
    coverage_target: float = Field(gt=0.0, le=1.0)
    official_population: int | None = Field(gt=0)


class ThresholdsConfig(_Strict):
    min_national_match_rate: float = Field(ge=0.0, le=1.0)
    min_region_match_rate: float = Field(ge=0.0, le=1.0)
    min_interview_minutes: float = Field(ge=0.0)


class SecurityConfig(_Strict):
    nik_key_env: str
    nik_key_file: str | None  # a mounted secret file instead of the variable (read by every JVM)
    local_key_file: str | None
    new_nik_key_env: str  # `dtks rotate-key`: the key the tables move to


class DefectRates(_Strict):
    """Rates of the defects `generate` injects; each key is also the `defect` value in truth/defects.

    Member defects are a share of survey member rows, household defects a share of survey households,
    curbstoning a share of enumerators (at least one when above zero). Rows are hit by one defect at most.
    """

    nik_missing: float = Field(ge=0.0, le=0.2)
    nik_malformed: float = Field(ge=0.0, le=0.2)
    nik_placeholder: float = Field(ge=0.0, le=0.2)
    nik_not_in_registry: float = Field(ge=0.0, le=0.2)
    person_not_in_registry: float = Field(ge=0.0, le=0.2)
    birth_date_sex_mismatch: float = Field(ge=0.0, le=0.2)
    future_birth_date: float = Field(ge=0.0, le=0.2)
    duplicate_person: float = Field(ge=0.0, le=0.05)
    deceased_listed: float = Field(ge=0.0, le=0.005)
    unknown_village: float = Field(ge=0.0, le=0.2)
    negative_floor_area: float = Field(ge=0.0, le=0.2)
    short_interview: float = Field(ge=0.0, le=0.2)
    curbstoning: float = Field(ge=0.0, le=0.2)
    appeal_invalid: float = Field(ge=0.0, le=0.5, description="share of appeals with a defect")

    @model_validator(mode="after")
    def _room_for_clean_rows(self) -> DefectRates:
        member = (
            self.nik_missing
            + self.nik_malformed
            + self.nik_placeholder
            + self.nik_not_in_registry
            + self.person_not_in_registry
            + self.birth_date_sex_mismatch
            + self.future_birth_date
        )
        household = self.unknown_village + self.negative_floor_area + self.short_interview
        if member > 0.5 or household > 0.5:
            raise ValueError("member or household defect rates add up to more than 0.5")
        return self


class ReportingErrors(_Strict):
    """How an enumerator misreports a registered person's name and birth date: each a share of the survey
    members who are in the registry, drawn independently, applied where it can be (docs/CONTRACTS.md)."""

    name_typo: float = Field(ge=0.0, le=1.0, description="one typing error in the name")
    muhammad_abbreviated: float = Field(ge=0.0, le=1.0, description="Muhammad written M., Moh. or Muh.")
    name_variant: float = Field(ge=0.0, le=1.0, description="a spelling variant (Nur/Noor, Siti/Sitti)")
    second_name_dropped: float = Field(ge=0.0, le=1.0, description="the last name left out")
    birth_day_month_swapped: float = Field(ge=0.0, le=1.0)
    birth_year_off_by_one: float = Field(ge=0.0, le=1.0)


class GenerateConfig(_Strict):
    households: int = Field(ge=10)
    seed: int
    training_rate: float = Field(gt=0.0, le=0.5, description="mean inclusion in the training sample")
    update_share: float = Field(gt=0.0, le=0.5, description="--update-of: share re-surveyed and changed")
    appeal_share: float = Field(ge=0.0, le=0.2, description="appeals filed per survey household")
    in_default_run: bool = Field(description="a plain `dtks run` starts with generate (where the "
                                 "landing zone holds no delivery)")
    defects: DefectRates
    reporting_errors: ReportingErrors


class QueueConfig(_Strict):
    """The verification queue (jobs/publish/queue.py): who the field re-surveys, by when, in which order.

    The shape only: that `deadline_days` and `priority` name each of the queue's reasons once is checked by
    the queue itself (jobs/publish/queue.py `settings`), beside the reasons' list (jobs/core/verification.py).
    """

    near_cutoff_band: float = Field(ge=0.0, le=0.2,
                                    description="households within this share of P of the coverage line")
    stale_interview_days: int = Field(ge=1)
    deadline_days: dict[str, Annotated[int, Field(ge=1)]] = Field(description="per reason, days to the deadline")
    priority: list[str] = Field(description="the reasons, first = priority 1")


class LinkageConfig(_Strict):
    """Probabilistic linkage of members without a usable NIK (models/linkage.py, jobs/ingest/linking.py)."""

    enabled: bool
    model_name: str = Field(description="the linkage model's registered name in MLflow")
    alias: str = Field(description="the version ingest scores with")
    upper: float = Field(gt=0.0, le=1.0, description="at or above: linked automatically")
    lower: float = Field(gt=0.0, le=1.0, description="from here to upper: a pair for clerical review")
    expected_share: float = Field(gt=0.0, le=1.0, description="training prior: share of members without a "
                                  "usable NIK thought to be in the registry")
    initial_model: str | None = Field(description="a lakehouse with no version registers this model file "
                                      "(in the conf folder unless absolute) as its first instead of training one")

    @model_validator(mode="after")
    def _ordered(self) -> LinkageConfig:
        if self.lower > self.upper:
            raise ValueError("lower must not exceed upper")
        return self


class ModelConfig(_Strict):
    """How the ranking model is fitted (the feature list itself lives in questionnaire.yaml)."""

    family: Literal["pmt_linear", "pmt_quantile", "gradient_boosting"]
    holdout_share: float = Field(gt=0.0, lt=1.0, description="held out by hash of household_id")
    ridge_alpha: float = Field(gt=0.0, description="penalty on household features")
    region_alpha: float = Field(gt=0.0, description="penalty on region effects: shrinks small provinces")
    urban_slopes: bool
    quantile: float = Field(gt=0.0, lt=1.0, description="pmt_quantile: the quantile predicted")
    quantile_alpha: float = Field(ge=0.0, description="pmt_quantile: L1 penalty (standardised terms)")
    gbm_max_iter: int = Field(ge=1)
    gbm_learning_rate: float = Field(gt=0.0, le=1.0)
    gbm_max_leaf_nodes: int = Field(ge=2)
    seed: int


class PromotionConfig(_Strict):
    """When a new model version replaces the champion: judged on the same held-out households."""

    metric: Literal[
        "exclusion_error_60",
        "exclusion_error_40",
        "inclusion_error_60",
        "inclusion_error_40",
        "spearman",
        "r2",
        "bottom_decile_overlap",
    ]
    min_improvement: float = Field(ge=0.0)
    max_churn: float = Field(ge=0.0, le=1.0,
                             description="share of persons changing eligibility for any programme (impact)")
    subgroup_error: Literal["exclusion_error_60", "exclusion_error_40"]
    max_subgroup_error: float = Field(ge=0.0, le=1.0,
                                      description="the worst subgroup's held-out subgroup_error")
    min_subgroup_households: int = Field(ge=1, description="held-out households a subgroup needs")


class TrialConfig(_Strict):
    """A verval trial: the whole pipeline on some provinces or regencies only, apart from the nation.

    With regions set, the lakehouse and landing zone move under `root` and MLflow experiment and
    model names get a trial suffix, so a trial can never write national tables or promote the
    national champion. Ranking is then within the trial's regions (P = their living registry persons).
    """

    regions: tuple[str, ...]
    root: str | None = Field(description="null: trials/<region codes>")

    @field_validator("regions")
    @classmethod
    def _codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        codes = [region_codes.plain(c) for c in value]
        bad = [c for c, p in zip(value, codes, strict=True) if not re.fullmatch(r"\d{2}|\d{4}", p)]
        if bad:
            raise ValueError(f"region codes are 2-digit provinces or 4-digit regencies (32, 3201 or 32.01), got {bad}")
        return tuple(sorted(set(codes)))

    @property
    def tag(self) -> str:
        """Short name of the trial used in paths and MLflow names."""
        if len(self.regions) <= 6:
            return "-".join(self.regions)
        digest = hashlib.sha1(",".join(self.regions).encode()).hexdigest()[:8]
        return f"{len(self.regions)}regions-{digest}"


class LayoutConfig(_Strict):
    rows_per_file: int = Field(gt=0)
    gold_deletion_vectors: bool


class MaintenanceConfig(_Strict):
    target_file_mb: int = Field(gt=0)
    vacuum_retain_hours: float = Field(ge=0)


class DtksConfig(_Strict):
    env: Literal["local", "test", "cluster"]
    lakehouse_root: str
    reports_dir: str  # reports/<run_id>/: the run's log (dtks.log) and its quality report
    layout: LayoutConfig
    maintenance: MaintenanceConfig
    landing: LandingConfig
    spark: SparkConfig
    mlflow: MlflowConfig
    ranking: RankingConfig
    queue: QueueConfig
    thresholds: ThresholdsConfig
    security: SecurityConfig
    generate: GenerateConfig
    model: ModelConfig
    linkage: LinkageConfig
    promotion: PromotionConfig
    trial: TrialConfig
    questionnaire_file: str
    programs_file: str
    regions_dir: str
    conf_dir: str
    # Where each dotted key was set (a file, or "command line"), kept for `invalid`.
    _origin: dict[str, str] = PrivateAttr(default_factory=dict)

    @field_validator("lakehouse_root")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    def path(self, value: str) -> Path:
        """Resolve a configured path: absolute stays, relative is taken from the working dir."""
        if "://" in value and not value.startswith("file://"):
            return Path(value)  # object-store URIs pass through untouched
        return Path(value.removeprefix("file://")).expanduser().resolve()

    def location(self, value: str) -> str:
        """A configured folder as Spark and Hadoop take it: an object-store URI as given (a `Path` would fold
        its `//`), a local path resolved from the working directory."""
        return str(self.path(value)) if is_local(value) else value

    def conf_file(self, name: str) -> Path:
        return Path(self.conf_dir) / name

    @property
    def lakehouse(self) -> str:
        """Lakehouse root as a string Spark accepts (local path or object-store URI)."""
        root = self.lakehouse_root
        return root if "://" in root else str(self.path(root))

    def run_folder(self, run_id: str) -> Path:
        """reports/<run_id>/: where a run's log and report go."""
        return self.path(self.reports_dir) / check_run_id(run_id)

    def table_path(self, table: str) -> str:
        return f"{self.lakehouse.rstrip('/')}/{table}"

    @property
    def is_trial(self) -> bool:
        return bool(self.trial.regions)

    def invalid(self, key: str, problem: str) -> ConfigError:
        """The error for a value a check above this floor refuses (one that needs a rule's vocabulary): one
        line naming the file (or command line) that set the dotted `key`, the key, and the problem."""
        return ConfigError(f"{_source(key, self._origin) or 'configuration'}: key '{key}': {problem}")


def _apply_trial(config: DtksConfig, source: str) -> DtksConfig:
    """Move a trial's lakehouse, landing zone and MLflow names away from the national ones."""
    if not config.trial.regions:
        return config
    tag = config.trial.tag
    root = (config.trial.root or f"trials/{tag}").rstrip("/")
    lakehouse, landing, reports = f"{root}/lakehouse", f"{root}/landing", f"{root}/reports"
    national = {config.lakehouse, str(config.path(config.landing.root))}
    resolved = {p if "://" in p else str(config.path(p)) for p in (lakehouse, landing)}
    if resolved & national:
        raise ConfigError(f"{source}: key 'trial.root': {root!r} would put the trial on the national tables")
    return config.model_copy(
        update={
            "lakehouse_root": lakehouse,
            "reports_dir": reports,
            "landing": config.landing.model_copy(update={"root": landing}),
            "mlflow": config.mlflow.model_copy(
                update={
                    "experiment": f"{config.mlflow.experiment}-trial-{tag}",
                    "model_name": f"{config.mlflow.model_name}_trial_{tag.replace('-', '_')}",
                }
            ),
            "linkage": config.linkage.model_copy(
                update={"model_name": f"{config.linkage.model_name}_trial_{tag.replace('-', '_')}"}),
            "ranking": config.ranking.model_copy(update={"official_population": None}),
        }
    )


def _deep_merge(base: dict, overlay: dict, origin: dict, source: str, prefix: str = "") -> dict:
    merged = dict(base)
    for key, value in overlay.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value, origin, source, dotted + ".")
        else:
            merged[key] = value
            origin[dotted] = source
            if isinstance(value, dict):
                for sub in _leaf_keys(value, dotted + "."):
                    origin[sub] = source
    return merged


def _leaf_keys(tree: dict, prefix: str) -> list[str]:
    keys = []
    for key, value in tree.items():
        keys.append(prefix + key)
        if isinstance(value, dict):
            keys.extend(_leaf_keys(value, prefix + key + "."))
    return keys


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of keys to values")
    return data


def _parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise ConfigError(f"command line: override {text!r} must look like key.path=value")
    key, raw = text.split("=", 1)
    return key.strip().split("."), yaml.safe_load(raw)


def load_config(
    env: str | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
    conf_dir: str | Path | None = None,
) -> DtksConfig:
    """Load base.yaml, then <env>.yaml, then overrides (``a.b=value`` strings or a nested dict)."""
    env = env or os.environ.get("DTKS_ENV", "local")
    if env not in ENVIRONMENTS:
        raise ConfigError(f"DTKS_ENV / --env: unknown environment {env!r}; expected one of {ENVIRONMENTS}")
    conf = Path(conf_dir or os.environ.get("DTKS_CONF_DIR", DEFAULT_CONF_DIR)).resolve()
    origin: dict[str, str] = {}
    merged: dict = {}
    for path in (conf / "base.yaml", conf / f"{env}.yaml"):
        if not path.exists():
            raise ConfigError(f"{path}: config file not found (set DTKS_CONF_DIR to the folder holding base.yaml)")
        merged = _deep_merge(merged, _read_yaml(path), origin, str(path))
    if isinstance(overrides, dict):
        merged = _deep_merge(merged, overrides, origin, "overrides")
    else:
        merged = _merge_overrides(merged, overrides or [], origin)
    origin[""] = str(conf / "base.yaml")  # a key set nowhere is missing there: base.yaml holds every default
    merged["env"] = env
    merged.setdefault("conf_dir", str(conf))
    config = _validated(merged, origin)
    return _apply_trial(config, origin.get("trial.regions") or origin.get("trial.root") or "defaults")


def with_overrides(config: DtksConfig, overrides: list[str]) -> DtksConfig:
    """`config` with ``a.b=value`` overrides applied, validated by the same model as a file's keys."""
    if not overrides:
        return config
    origin = dict(config._origin)
    return _validated(_merge_overrides(config.model_dump(), overrides, origin), origin)


def _merge_overrides(merged: dict, overrides: list[str], origin: dict[str, str]) -> dict:
    for text in overrides:
        keys, value = _parse_override(text)
        nested: dict = {}
        cursor = nested
        for key in keys[:-1]:
            cursor = cursor.setdefault(key, {})
        cursor[keys[-1]] = value
        merged = _deep_merge(merged, nested, origin, "command line")
    return merged


def _validated(merged: dict, origin: dict[str, str]) -> DtksConfig:
    try:
        config = DtksConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(
            _problems(exc, lambda key: _source(key, origin) or "command line",
                      "missing (base.yaml sets every key, the overlays override)"))) from None
    config._origin = origin
    return config


def _problems(exc: ValidationError, source: Callable[[str], str], missing: str = "Field required") -> list[str]:
    """One line per problem: the file (or command line) that set the key, the key, what is wrong (`missing`
    for a key no file sets)."""
    out = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "missing":
            out.append(f"{source(key)}: key '{key}': {missing}")
            continue
        out.append(f"{source(key)}: key '{key}': {err['msg'].removeprefix('Value error, ')} (got {err['input']!r})")
    return out


M = TypeVar("M", bound=BaseModel)


def validated_file(model: type[M], path: Path) -> M:
    """A YAML file of rules (questionnaire, programmes) read and checked by its own model: an error
    names the file and the key."""
    if not path.exists():
        raise ConfigError(f"{path}: file not found")
    try:
        return model.model_validate(_read_yaml(path))
    except ValidationError as exc:
        problems = _problems(exc, lambda _: str(path))
        raise ConfigError(problems[0] if len(problems) == 1 else "\n  ".join(["invalid file:", *problems])) from None


def _source(key: str, origin: dict[str, str]) -> str | None:
    """The file (or "command line") that set `key`, else the closest enclosing key's; base.yaml's for a key
    set nowhere (load_config records it as the origin of "")."""
    return origin.get(key) or _closest_origin(key, origin)


def _closest_origin(key: str, origin: dict[str, str]) -> str | None:
    parts = key.split(".")
    while parts:
        parts.pop()
        if ".".join(parts) in origin:
            return origin[".".join(parts)]
    return None


MIN_KEY_LENGTH = 32


def nik_key_source(config: DtksConfig) -> str:
    """Where the HMAC key for NIK tokens is: `env:NAME` or `file:PATH`, checked here (set, long enough,
    private). Only the location travels: each JVM reads the key itself (jobs/core/nik.py `register`).

    The environment variable comes first, then security.nik_key_file; the local demo makes its own
    key file. In cluster mode a missing key is an error before any work starts.
    """
    sec = config.security
    value = os.environ.get(sec.nik_key_env)
    if value:
        if len(value) < MIN_KEY_LENGTH:
            raise ConfigError(
                f"environment variable {sec.nik_key_env}: key must be at least {MIN_KEY_LENGTH} characters")
        return f"env:{sec.nik_key_env}"
    if sec.nik_key_file:
        path = config.path(sec.nik_key_file)
        if not path.exists():
            raise ConfigError(f"security.nik_key_file: {path} does not exist")
        _check_key_file(path)
        return f"file:{path.resolve()}"
    if config.env == "cluster" or not sec.local_key_file:
        raise ConfigError(
            f"environment variable {sec.nik_key_env} is not set: the NIK pseudonymisation "
            "key is required (a secret of at least 32 characters)"
        )
    path = config.path(sec.local_key_file)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    _check_key_file(path)
    return f"file:{path.resolve()}"


def new_nik_key_source(config: DtksConfig) -> str:
    """`dtks rotate-key`: the new key, from security.new_nik_key_env only, different from the current one."""
    name = config.security.new_nik_key_env
    value = os.environ.get(name)
    if not value:
        raise ConfigError(f"environment variable {name} is not set: rotate-key needs the new key there")
    if len(value) < MIN_KEY_LENGTH:
        raise ConfigError(f"environment variable {name}: key must be at least {MIN_KEY_LENGTH} characters")
    if value.encode() == nik_key(config):
        raise ConfigError(f"environment variable {name} holds the current key: rotation needs a new one")
    return f"env:{name}"


def _check_key_file(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(f"{path}: key file must be readable by its owner only (mode is {oct(mode)})")
    if len(path.read_text().strip()) < MIN_KEY_LENGTH:
        raise ConfigError(f"{path}: key must be at least {MIN_KEY_LENGTH} characters")


def nik_key(config: DtksConfig) -> bytes:
    """The key itself, for checks in Python only (it is never passed to Spark)."""
    kind, _, where = nik_key_source(config).partition(":")
    return os.environ[where].encode() if kind == "env" else Path(where).read_text().strip().encode()
