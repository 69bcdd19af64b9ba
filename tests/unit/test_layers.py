"""The layers inside hub/ (DESIGN.md, "Layers inside hub/"): imports go down the list only, never
round in a circle, and never reach for another module's private names.

Every import counts, at the top of a module or inside a function (an import moved into a function
to dodge a circle is still the circle), `if TYPE_CHECKING:` ones too. Migrations are left out:
Alembic loads them by path, and each is a frozen copy of the schema of its day.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HUB = Path(__file__).resolve().parents[2] / "hub"

# DESIGN.md's table, bottom up: a module may import its own layer and those before it.
LAYERS = ("core", "infrastructure", "connection types", "services", "jobs", "web", "app")
# Beside the order: jobs and web stand side by side above the services. A view enqueues a job by
# its dotted name and never imports it; only the app (the worker) does.
SIDE_BY_SIDE = {("web", "jobs")}

# Each module's layer, by the longest prefix of its dotted name that is listed here ("hub" itself
# names hub/__init__.py only). A module no prefix covers fails the test: a new module is put in its
# layer on purpose, here and in DESIGN.md.
LAYER_OF = {
    # core: models, money, errors, extensions, JSON, numbers and dates in the user's locale
    "hub.models": "core",
    "hub.money": "core",
    "hub.errors": "core",
    "hub.extensions": "core",
    "hub.jsonio": "core",
    "hub.i18n": "core",
    "hub.languages": "core",
    "hub.locale_numbers": "core",
    "hub.unicode_text": "core",
    "hub.sentences": "core",
    # infrastructure: queue, backoff, bulk writes, and what the session does on every write
    "hub.sync.queue": "infrastructure",
    "hub.sync.backoff": "infrastructure",
    "hub.bulk": "infrastructure",
    "hub.audit": "infrastructure",
    "hub.kept_answers": "infrastructure",
    "hub.plain_paths": "infrastructure",
    # connection types: the registry (a leaf), the connector factory, secrets, the mapping store,
    # and what the factory hands an OAuth connector (its tokens, its pacer)
    "hub.sync.registry": "connection types",
    "hub.sync.factory": "connection types",
    "hub.sync.oauth_tokens": "connection types",
    "hub.sync.pacing": "connection types",
    "hub.secrets_box": "connection types",
    "hub.mapping_store": "connection types",
    # services: CRM rules, invoicing, sync, inventory, reconciliation, notifications
    "hub.sync": "services",
    "hub.sync.results": "services",  # the one recorder of push, cancel and status results
    "hub.inventory": "services",
    "hub.invoicing": "services",
    "hub.mapping_preview": "services",
    "hub.services": "services",
    "hub.finance": "services",
    "hub.notices": "services",
    "hub.reconciliation": "services",
    "hub.oauth_flow": "services",
    "hub.permissions": "services",
    # jobs: RQ entry points, enqueued by dotted name
    "hub.sync.jobs": "jobs",
    # web: API views, pages, the 1C exchange endpoint, auth
    "hub.api": "web",
    "hub.ui": "web",
    "hub.exchange": "web",
    "hub.auth": "web",
    "hub.web": "web",
    "hub.login_throttle": "web",
    "hub.security_headers": "web",
    "hub.health": "web",
    # app: create_app, the CLI and what only it starts (worker, scheduler, demo data and demo ERP)
    "hub": "app",
    "hub.cli": "app",
    "hub.sync.worker": "app",
    "hub.seed": "app",
    "hub.demo_erp": "app",
}


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str  # a hub module
    name: str | None  # the name taken from it (`from m import name`), if any
    line: int

    def __str__(self) -> str:
        what = f"{self.imported}.{self.name}" if self.name else self.imported
        return f"{self.importer} imports {what} (line {self.line})"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(HUB.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def hub_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(HUB.rglob("*.py")) if "migrations" not in p.relative_to(HUB).parts}


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> Iterator[Import]:
    """Every import of a hub module by `name`, wherever it stands in the file."""

    def known(dotted: str) -> str | None:
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = known(alias.name)
                if target and target != name:
                    yield Import(name, target, None, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # from . import x, from ..models import y
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*up, base] if base else up)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in modules:  # from hub.sync import outbox
                    yield Import(name, submodule, None, node.lineno)
                    continue
                target = known(base)
                if target and target != name:
                    yield Import(name, target, alias.name, node.lineno)


def layer_of(module: str) -> str | None:
    prefixes = [p for p in LAYER_OF if module == p or (p != "hub" and module.startswith(p + "."))]
    return LAYER_OF[max(prefixes, key=len)] if prefixes else None


def all_imports() -> list[Import]:
    modules = hub_modules()
    return [i for name, path in modules.items() for i in imports_of(name, path, modules)]


def circles(imports: list[Import]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    edges: dict[str, set[str]] = {}
    for i in imports:
        edges.setdefault(i.importer, set()).add(i.imported)
        edges.setdefault(i.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_every_module_has_a_layer():
    assert not [m for m in hub_modules() if layer_of(m) is None], "put these in LAYER_OF and DESIGN.md"


def test_no_import_circles():
    imports = all_imports()
    problems = []
    for component in circles(imports):
        inside = [str(i) for i in imports if i.importer in component and i.imported in component]
        problems.append("circle of " + ", ".join(component) + ":\n    " + "\n    ".join(inside))
    assert not problems, "\n".join(problems)


def test_imports_go_down_the_layers_only():
    upward = [
        f"{i} — {layer_of(i.importer)} may not import {layer_of(i.imported)}"
        for i in all_imports()
        if LAYERS.index(layer_of(i.importer) or "app") < LAYERS.index(layer_of(i.imported) or "app")
        or (layer_of(i.importer), layer_of(i.imported)) in SIDE_BY_SIDE
    ]
    assert not upward, "\n".join(upward)


def test_no_module_imports_another_ones_private_names():
    private = [i for i in all_imports() if i.name and i.name.startswith("_") and not i.name.startswith("__")]
    assert not private, "\n".join(map(str, private))


def test_the_check_reads_imports_inside_functions_and_relative_ones(tmp_path):
    modules = {"hub.a": tmp_path / "a.py", "hub.b": tmp_path / "b.py", "hub": tmp_path / "__init__.py"}
    modules["hub.a"].write_text("def f():\n    from . import b\n    from .b import _x\n")
    found = list(imports_of("hub.a", modules["hub.a"], modules))
    assert [(i.imported, i.name, i.line) for i in found] == [("hub.b", None, 2), ("hub.b", "_x", 3)]
    assert circles([Import("hub.a", "hub.b", None, 1), Import("hub.b", "hub.a", None, 1)]) == [["hub.a", "hub.b"]]
