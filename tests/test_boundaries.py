"""The import boundaries of docs/ARCHITECTURE.md hold: the contracts in pyproject.toml (`[tool.importlinter]`),
checked by import-linter on the source, so a step cannot start importing another without this test failing."""

from __future__ import annotations

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
    code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    assert code == 0, capsys.readouterr().out
