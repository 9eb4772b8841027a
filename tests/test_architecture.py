"""The shape rules of ARCHITECTURE.md and STYLE.md, checked on every domain."""

from __future__ import annotations

import ast
from pathlib import Path

from prodops.platform.registry import DOMAINS

SRC = Path(__file__).parent.parent / "src" / "prodops"
ALLOWED_FILES = {
    "__init__.py",
    "models.py",
    "schemas.py",
    "queries.py",
    "service.py",
    "routes.py",
    "jobs.py",
    "commands.py",
    "demo.py",
    "datasets.py",
    "events.py",
}
CROSS_DOMAIN_OK = {"service", "schemas", "events"}

TIER = {
    "customers": 1,
    "knowledge": 1,
    "techstack": 1,
    "features": 2,
    "analytics": 2,
    "feedback": 3,
    "surveys": 4,
    "portal": 4,
    "escalations": 4,
    "requests": 4,
    "roadmap": 5,
    "experiments": 5,
    "releases": 6,
    "reports": 7,
}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
            found.extend(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.extend(a.name for a in node.names)
    return found


def test_domains_have_the_same_shape() -> None:
    for domain in DOMAINS:
        folder = SRC / "domains" / domain
        assert folder.is_dir(), domain
        init = (folder / "__init__.py").read_text(encoding="utf-8").strip()
        assert init.startswith('"""') and init.count("\n") == 0, f"{domain}/__init__.py must be a one-line docstring"
        odd = {p.name for p in folder.glob("*.py")} - ALLOWED_FILES
        assert not odd, f"{domain} has files outside the domain shape: {odd}"


def test_domains_talk_only_through_service_schemas_and_events_of_lower_tiers() -> None:
    problems = []
    for domain in DOMAINS:
        for path in (SRC / "domains" / domain).rglob("*.py"):
            for module in _imports(path):
                parts = module.split(".")
                if parts[:2] != ["prodops", "domains"] or len(parts) < 3 or parts[2] == domain:
                    continue
                other = parts[2]
                if TIER.get(other, 99) >= TIER.get(domain, 0):
                    problems.append(f"{path.relative_to(SRC)} imports {module}: {other} is not a lower tier")
                elif len(parts) > 3 and parts[3] not in CROSS_DOMAIN_OK:
                    problems.append(
                        f"{path.relative_to(SRC)} imports {module}: only service, schemas and events may be used"
                    )
    assert not problems, "\n".join(problems)


def test_routes_never_commit() -> None:
    offenders = [str(p.relative_to(SRC)) for p in SRC.rglob("routes.py") if ".commit(" in p.read_text(encoding="utf-8")]
    offenders += [
        str(p.relative_to(SRC)) for p in SRC.rglob("queries.py") if ".commit(" in p.read_text(encoding="utf-8")
    ]
    assert not offenders, f"routes and queries must not commit: {offenders}"


def test_platform_imports_no_domain() -> None:
    offenders = [
        f"{p.relative_to(SRC)} -> {m}"
        for p in (SRC / "platform").rglob("*.py")
        for m in _imports(p)
        if m.startswith("prodops.domains")
    ]
    assert not offenders, offenders
