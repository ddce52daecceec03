"""The arrows between the top-level packages, read from every module's imports (``ast``, nothing is imported):

    services/<name>/  →  shared/  →  (the standard library and the dependencies)
    devkit/, bench/, chaos/, tests/  →  services/, shared/

shared/ holds the contracts and the runtime the services share; development and demo tooling lives in
devkit/. So nothing in services/ or shared/ imports devkit, tests, bench or chaos; shared/ never imports a
service; and no service imports another (they meet only in shared/ and on Kafka). Imports inside functions
and relative imports count as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLING = ("devkit", "tests", "bench", "chaos")
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists())


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file (or in ``source``, as if it were that file);
    ``from x import y`` yields both x and x.y (y may be a module); relative imports are resolved against the
    file's package."""
    text = path.read_text(encoding="utf-8") if source is None else source
    tree = ast.parse(text, filename=str(path))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names if alias.name != "*"]
    return found


def under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def modules(top: str) -> list[Path]:
    return sorted(p for p in (ROOT / top).rglob("*.py") if "__pycache__" not in p.parts)


def test_the_walk_finds_the_packages_and_resolves_relative_imports() -> None:
    assert SERVICES == ["assessment", "catalog", "notification", "reporting"]
    assert len(modules("shared")) > 20 and all(len(modules(f"services/{s}")) > 3 for s in SERVICES)
    # the checker itself: an absolute, a relative and a function-local import are all seen
    probe = ROOT / "services" / "catalog" / "routes" / "probe.py"
    source = "import os\nfrom ..store import x\nfrom . import search\ndef f():\n    from devkit import sinks\n"
    names = [n for _, n in imported(probe, source)]
    assert names == ["os", "services.catalog.store", "services.catalog.store.x", "services.catalog.routes",
                     "services.catalog.routes.search", "devkit", "devkit.sinks"]


@pytest.mark.parametrize("top", ["shared", "services"])
def test_services_and_shared_never_import_the_tooling(top: str) -> None:
    wrong = [f"{p.relative_to(ROOT)}:{line} imports {name}" for p in modules(top) for line, name in imported(p)
             if any(under(name, t) for t in TOOLING)]
    assert not wrong, f"{top}/ must not import {', '.join(TOOLING)} (development tooling is in devkit/):\n" + "\n".join(wrong)


def test_shared_never_imports_a_service() -> None:
    wrong = [f"{p.relative_to(ROOT)}:{line} imports {name}" for p in modules("shared") for line, name in imported(p)
             if under(name, "services")]
    assert not wrong, "shared/ must not import services/ (what needs a service belongs to that service or to devkit/):\n" + "\n".join(wrong)


@pytest.mark.parametrize("service", SERVICES)
def test_no_service_imports_another(service: str) -> None:
    others = [s for s in SERVICES if s != service]
    wrong = [f"{p.relative_to(ROOT)}:{line} imports {name}" for p in modules(f"services/{service}") for line, name in imported(p)
             if any(under(name, f"services.{o}") for o in others)]
    assert not wrong, f"services/{service}/ must not import another service:\n" + "\n".join(wrong)
