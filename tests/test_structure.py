"""The shape of the package, read from its source with ``ast``: what may import what.

These tests read ``src/gridgov`` as text; they import nothing of it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import attrs

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "gridgov"


@attrs.frozen
class Module:
    """One module of the package and its parsed source."""

    #: Dotted name, e.g. ``gridgov.sim.runner`` (a package is its ``__init__``).
    name: str
    path: Path
    tree: ast.Module

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"


def modules() -> dict[str, Module]:
    """Every module of ``src/gridgov`` by dotted name."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        name = ".".join(parts)
        found[name] = Module(name, path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return found


def absolute(module: Module, node: ast.ImportFrom) -> str:
    """The module an ``from X import ...`` names, with relative imports resolved."""
    if not node.level:
        return node.module or ""
    base = module.name.split(".")
    if not module.is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


class TestPrivateNames:
    """No module reaches into another module's private names."""

    def test_no_private_name_imported_across_modules(self) -> None:
        """``from gridgov.x import _y`` appears nowhere in src/ (private modules such as
        ``gridgov._toml`` may be imported: their names are the package's own machinery)."""
        offences = []
        for module in modules().values():
            for node in ast.walk(module.tree):
                if isinstance(node, ast.ImportFrom):
                    source = absolute(module, node)
                    if not source.startswith("gridgov"):
                        continue
                    offences += [
                        f"{module.name}: from {source} import {alias.name}"
                        for alias in node.names
                        if is_private(alias.name)
                    ]
        assert offences == []

    def test_no_private_attribute_of_an_imported_name(self) -> None:
        """``Imported._private`` (a class or module imported from elsewhere in gridgov)
        appears nowhere in src/."""
        offences = []
        for module in modules().values():
            imported: set[str] = set()
            for node in ast.walk(module.tree):
                if isinstance(node, ast.ImportFrom) and absolute(module, node).startswith(
                    "gridgov"
                ):
                    imported.update(alias.asname or alias.name for alias in node.names)
                elif isinstance(node, ast.Import):
                    imported.update(
                        (alias.asname or alias.name).split(".")[0]
                        for alias in node.names
                        if alias.name.startswith("gridgov")
                    )
            for node in ast.walk(module.tree):
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id in imported
                    and is_private(node.attr)
                ):
                    offences.append(f"{module.name}:{node.lineno}: {node.value.id}.{node.attr}")
        assert offences == []

    def test_the_check_sees_an_offence(self, tmp_path: Path) -> None:
        """The checks above would see a private import: they are not vacuous."""
        source = "from gridgov.rules import _Reader\nfrom gridgov.tickets import T\nT._ARRAYS\n"
        tree = ast.parse(source)
        module = Module("gridgov.sim.fake", tmp_path / "fake.py", tree)
        imports = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert [absolute(module, n) for n in imports] == ["gridgov.rules", "gridgov.tickets"]
        assert is_private(imports[0].names[0].name)
        attributes = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute)]
        assert [(a.value.id, is_private(a.attr)) for a in attributes] == [("T", True)]  # type: ignore[attr-defined]
