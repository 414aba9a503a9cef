"""The stages, by name: the pipeline in its order (what `dtks run` runs), and the operator stages.

Each is the thin entry module of its step's folder (jobs/<step>/stage.py).
"""

from __future__ import annotations

from types import ModuleType

from jobs.generate import stage as generate
from jobs.ingest import stage as ingest
from jobs.maintain import stage as maintain
from jobs.publish import stage as publish
from jobs.report import stage as report
from jobs.rotate_key import stage as rotate_key
from jobs.score import stage as score
from jobs.train import stage as train

PIPELINE: tuple[ModuleType, ...] = (generate, ingest, train, score, publish, report)
OPERATOR: tuple[ModuleType, ...] = (maintain, rotate_key)
STAGES: dict[str, ModuleType] = {stage.NAME: stage for stage in (*PIPELINE, *OPERATOR)}
PIPELINE_NAMES: tuple[str, ...] = tuple(stage.NAME for stage in PIPELINE)
