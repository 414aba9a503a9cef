"""The import boundaries of docs/ARCHITECTURE.md hold: the contracts in pyproject.toml (`[tool.importlinter]`),
checked by import-linter on the source, so a step cannot start importing another without this test failing."""

from __future__ import annotations

import logging
from pathlib import Path

from importlinter.cli import lint_imports

import jobs

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contracts_hold(capsys):
    """`lint-imports` through its Python API, in this process (it reads the source, imports none of it, and
    starts no Spark): every contract is kept. A failure shows import-linter's report, naming each forbidden
    import with its module and line."""
    # import-linter analyses the `jobs` that `import jobs` finds: this checkout's, not another installed copy.
    assert Path(jobs.__file__).resolve().parents[1] == ROOT, f"jobs is imported from {jobs.__file__}"
    # import-linter configures logging as a command does, which disables every logger made before it; the
    # tests that run after this one in the same worker still read their modules' warnings.
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    disabled = {logger: logger.disabled for logger in loggers}
    level, handlers = logging.root.level, list(logging.root.handlers)
    try:
        code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    finally:
        for logger, was in disabled.items():
            logger.disabled = was
        logging.root.setLevel(level)
        logging.root.handlers[:] = handlers
    assert code == 0, capsys.readouterr().out
