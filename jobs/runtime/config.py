"""The one config loader: conf/base.yaml + conf/<env>.yaml (+ command-line overrides), validated.

Every key is typed and unknown keys are refused, so a typo fails at start-up rather than silently
falling back to a default. Errors name the key and the file that set it.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONF_DIR = PROJECT_ROOT / "conf"
ENVIRONMENTS = ("local", "test", "cluster")


class ConfigError(ValueError):
    """A config value a user can fix: the message names the key and the file."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LandingConfig(_Strict):
    root: str = "landing"
    format: Literal["parquet", "csv"] = "parquet"


class SparkConfig(_Strict):
    app_name: str = "dtks"
    master: str = "local[*]"
    shuffle_partitions: int | None = Field(default=None, ge=1, description="null: 2 x cores")
    ui_enabled: bool = True
    driver_memory: str = "4g"
    extra: dict[str, str] = Field(default_factory=dict)


class MlflowConfig(_Strict):
    tracking_uri: str = "sqlite:///mlruns/mlflow.db"
    artifact_root: str = "mlruns/artifacts"
    experiment: str = "dtks-ranking"
    model_name: str = "dtks_pmt"


class RankingConfig(_Strict):
    coverage_target: float = Field(default=0.60, gt=0.0, le=1.0)
    official_population: int | None = Field(default=None, gt=0)


class ThresholdsConfig(_Strict):
    min_national_match_rate: float = Field(default=0.80, ge=0.0, le=1.0)
    min_region_match_rate: float = Field(default=0.50, ge=0.0, le=1.0)
    min_interview_minutes: float = Field(default=10.0, ge=0.0)


class SecurityConfig(_Strict):
    nik_key_env: str = "DTKS_NIK_KEY"
    local_key_file: str | None = ".secrets/nik_hmac.key"


class GenerateConfig(_Strict):
    households: int = Field(default=20_000, ge=10)
    seed: int = 42


class DtksConfig(_Strict):
    env: Literal["local", "test", "cluster"] = "local"
    lakehouse_root: str = "lakehouse"
    landing: LandingConfig = LandingConfig()
    spark: SparkConfig = SparkConfig()
    mlflow: MlflowConfig = MlflowConfig()
    ranking: RankingConfig = RankingConfig()
    thresholds: ThresholdsConfig = ThresholdsConfig()
    security: SecurityConfig = SecurityConfig()
    generate: GenerateConfig = GenerateConfig()
    questionnaire_file: str = "questionnaire.yaml"
    programs_file: str = "programs.yaml"
    regions_dir: str = "reference/idn-area-data"
    conf_dir: str = str(DEFAULT_CONF_DIR)

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

    def conf_file(self, name: str) -> Path:
        return Path(self.conf_dir) / name

    @property
    def lakehouse(self) -> str:
        """Lakehouse root as a string Spark accepts (local path or object-store URI)."""
        root = self.lakehouse_root
        return root if "://" in root else str(self.path(root))

    def table_path(self, table: str) -> str:
        return f"{self.lakehouse.rstrip('/')}/{table}"


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
            raise ConfigError(f"{path}: config file not found")
        merged = _deep_merge(merged, _read_yaml(path), origin, str(path))
    if isinstance(overrides, dict):
        merged = _deep_merge(merged, overrides, origin, "overrides")
    else:
        for text in overrides or []:
            keys, value = _parse_override(text)
            nested: dict = {}
            cursor = nested
            for key in keys[:-1]:
                cursor = cursor.setdefault(key, {})
            cursor[keys[-1]] = value
            merged = _deep_merge(merged, nested, origin, "command line")
    merged["env"] = env
    merged.setdefault("conf_dir", str(conf))
    try:
        return DtksConfig.model_validate(merged)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            source = origin.get(key) or _closest_origin(key, origin) or "defaults"
            problems.append(f"{source}: key '{key}': {err['msg']} (got {err.get('input')!r})")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems)) from None


def _closest_origin(key: str, origin: dict[str, str]) -> str | None:
    parts = key.split(".")
    while parts:
        parts.pop()
        if ".".join(parts) in origin:
            return origin[".".join(parts)]
    return None


def nik_key(config: DtksConfig) -> bytes:
    """The HMAC key for NIK tokens: from the environment only; the local demo makes its own file.

    In cluster mode a missing key is an error before any work starts.
    """
    value = os.environ.get(config.security.nik_key_env)
    if value:
        if len(value) < 32:
            raise ConfigError(
                f"environment variable {config.security.nik_key_env}: key must be at least 32 characters"
            )
        return value.encode()
    if config.env == "cluster" or not config.security.local_key_file:
        raise ConfigError(
            f"environment variable {config.security.nik_key_env} is not set: the NIK pseudonymisation "
            "key is required (a secret of at least 32 characters)"
        )
    path = config.path(config.security.local_key_file)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(f"{path}: key file must be readable by its owner only (mode is {oct(mode)})")
    return path.read_text().strip().encode()
