"""The domain stays framework-free (DESIGN.md): checked by reading every import in concerns/."""

import ast
from pathlib import Path

import concerns

FORBIDDEN = {"botbuilder", "botframework", "aiohttp", "sqlalchemy", "alembic", "apscheduler", "jinja2", "msal",
             "bot", "storage", "scheduler"}


def imported_top_level_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_domain_imports_no_framework_or_outer_layer() -> None:
    package = Path(concerns.__file__).parent
    files = sorted(package.rglob("*.py"))
    assert len(files) >= 8
    offenders = {
        str(f.relative_to(package)): sorted(imported_top_level_modules(f) & FORBIDDEN)
        for f in files
        if imported_top_level_modules(f) & FORBIDDEN
    }
    assert offenders == {}


def test_the_checker_would_notice_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from sqlalchemy import select\nimport botbuilder.core\n")
    assert imported_top_level_modules(sample) & FORBIDDEN == {"sqlalchemy", "botbuilder"}


def test_the_scheduler_depends_on_the_domain_not_on_teams_or_sql() -> None:
    """`scheduler/` computes and delivers through the domain's ports; Teams and SQL come in from the app factory."""
    import scheduler

    package = Path(scheduler.__file__).parent
    outer = {"botbuilder", "botframework", "aiohttp", "sqlalchemy", "alembic", "jinja2", "msal", "bot", "storage"}
    files = sorted(package.rglob("*.py"))
    assert len(files) >= 4
    offenders = {str(f.relative_to(package)): sorted(imported_top_level_modules(f) & outer)
                 for f in files if imported_top_level_modules(f) & outer}
    assert offenders == {}
