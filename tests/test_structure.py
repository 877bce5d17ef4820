"""The shape of the package, read from its source with ``ast``: what may import what.

These tests read ``src/gridgov`` as text; they import nothing of it.
"""

from __future__ import annotations

import ast
import functools
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


@functools.cache
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


# ------------------------------------------------------------------ layers

#: Where every module of gridgov sits, lowest layer first. A module may import
#: modules of its own layer or of lower ones, never of a higher one, and the
#: imports must not form a cycle. A new module gets its line here: the test
#: fails, naming it, until it does. Patterns ending in ``.*`` cover a package's
#: modules (the package's own ``__init__`` is named without it).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # Used by every layer: the error tree, the words of the practice, the
    # TOML toolkit, the clock, the event records planners hand to the engine.
    (
        "base",
        (
            "gridgov.errors",
            "gridgov.vocabulary",
            "gridgov._toml",
            "gridgov.clock",
            "gridgov._gc",
            "gridgov._grouping",
            "gridgov._files",
            "gridgov._progress",
            "gridgov._arguments",
            "gridgov._interrupts",
            "gridgov.records",
        ),
    ),
    # attrs classes of the city: units, compounds, buildings, people, posts.
    ("model", ("gridgov.model", "gridgov.model.*")),
    # The command chain and the immutable City; what builds and stores cities
    # (bundles, synthesis, presets), optional geometry and gridding.
    (
        "city",
        (
            "gridgov.chain",
            "gridgov.city",
            "gridgov.gridding",
            "gridgov.presets",
            "gridgov.presets.*",
            "gridgov.cities",
            "gridgov.cities.*",
            "gridgov.synthesis",
            "gridgov.depots",
            "gridgov.geo",
            "gridgov.geo.*",
        ),
    ),
    # Declarative rules; the event store; redaction of what is published.
    ("rules", ("gridgov.rules", "gridgov.journal", "gridgov.privacy")),
    # Pure planners, one per domain, and the state machines they plan on.
    (
        "planners",
        (
            "gridgov.modes",
            "gridgov.staffing",
            "gridgov.tickets",
            "gridgov._ticket_stream",
            "gridgov._bulk_arguments",
            "gridgov.alerts",
            "gridgov.measures",
            "gridgov.supplies",
            "gridgov.supply_book",
            "gridgov.planners",
            "gridgov.planners.*",
        ),
    ),
    # The engine facade and the formats it publishes.
    (
        "engine",
        (
            "gridgov.engine",
            "gridgov.engine.*",
            "gridgov._kernel",
            "gridgov._commands",
            "gridgov._state",
            "gridgov.views",
            "gridgov.reducer",
            "gridgov.cloudevents",
            "gridgov.open311",
        ),
    ),
    # Everything that drives an engine: simulation, the command line, test helpers.
    (
        "sim/cli",
        (
            "gridgov.sim",
            "gridgov.sim.*",
            "gridgov._checking",
            "gridgov.cli",
            "gridgov.testing",
            "gridgov._pytest_plugin",
        ),
    ),
    # The curated public face re-exports from every layer.
    ("package", ("gridgov",)),
)


#: Imports that close a cycle and are tolerated for now, each inside a function
#: (so importing either module works). Each is a concept in the wrong place;
#: the list only shrinks.
LAZY_CYCLES: frozenset[tuple[str, str]] = frozenset(
    {
        # City.save() writes a bundle through gridgov.cities, which reads and
        # builds Cities: saving belongs to gridgov.cities (save_city) alone.
        ("gridgov.city", "gridgov.cities"),
    }
)


def layer_of(name: str) -> int | None:
    """The index in LAYERS of the module ``name``; None when it has no line."""
    for index, (_, patterns) in enumerate(LAYERS):
        for pattern in patterns:
            if name == pattern or (pattern.endswith(".*") and name.startswith(pattern[:-1])):
                return index
    return None


def type_checking_nodes(tree: ast.Module) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:`` (never run)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            found.update(id(child) for child in ast.walk(node))
    return found


def imports(module: Module, known: dict[str, Module], typing: bool) -> set[str]:
    """The modules of gridgov ``module`` imports (at any depth of its code).

    Args:
        typing: include imports under ``if TYPE_CHECKING:``.
    """
    skip = set() if typing else type_checking_nodes(module.tree)
    found: set[str] = set()
    for node in ast.walk(module.tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            source = absolute(module, node)
            if not source.startswith("gridgov"):
                continue
            found.add(source)
            found.update(
                f"{source}.{alias.name}"
                for alias in node.names
                if f"{source}.{alias.name}" in known
            )
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("gridgov"))
    found.discard(module.name)
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle is not None:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle is not None:
                return cycle
    return None


class TestImportGraph:
    """Data flows one way: model -> chain/city -> rules -> planners -> engine -> sim/cli."""

    def test_every_module_has_a_layer(self) -> None:
        """Each module of src/gridgov is placed in LAYERS."""
        assert [name for name in modules() if layer_of(name) is None] == []

    def test_no_module_imports_a_higher_layer(self) -> None:
        """No import points up the layers (imports for type checking included)."""
        known = modules()
        upward = []
        for module in known.values():
            own = layer_of(module.name)
            for target in sorted(imports(module, known, typing=True)):
                theirs = layer_of(target)
                if own is not None and theirs is not None and theirs > own:
                    upward.append(
                        f"{module.name} ({LAYERS[own][0]}) imports {target} ({LAYERS[theirs][0]})"
                    )
        assert upward == []

    def test_no_import_cycle(self) -> None:
        """The modules' imports form no cycle (imports for type checking only, which
        never run, are left out; the package's own __init__ re-exports and is left out;
        so are the known exceptions of LAZY_CYCLES)."""
        known = modules()
        graph = {
            name: {
                t
                for t in imports(module, known, typing=False)
                if t in known and t != "gridgov" and (name, t) not in LAZY_CYCLES
            }
            for name, module in known.items()
            if name != "gridgov"
        }
        assert find_cycle(graph) is None

    def test_lazy_cycles_are_still_there(self) -> None:
        """Each exception of LAZY_CYCLES is a real import (drop it when it goes)."""
        known = modules()
        for source, target in LAZY_CYCLES:
            assert target in imports(known[source], known, typing=False), (source, target)

    def test_find_cycle_finds_one(self) -> None:
        """The cycle finder is not vacuous: it finds the sim cycle this layout removed."""
        graph = {
            "sim.outbreak": {"sim.covasim"},
            "sim.covasim": {"sim.runner"},
            "sim.runner": {"sim.outbreak"},
        }
        assert find_cycle(graph) == ["sim.covasim", "sim.runner", "sim.outbreak", "sim.covasim"]
        assert find_cycle({"a": {"b"}, "b": set()}) is None


# -------------------------------------------------------------- vocabulary


def test_no_module_declares_the_vocabulary_again() -> None:
    """No module but gridgov.vocabulary assigns a tuple, list or set of strings
    that spells out a whole concept of it (the zones, the modes, the roles, ...)."""
    from gridgov import vocabulary

    concepts = {
        name: frozenset(getattr(vocabulary, name))
        for name in vocabulary.__all__
        if name.isupper() and isinstance(getattr(vocabulary, name), tuple | frozenset)
    }
    offences = []
    for module in modules().values():
        if module.name == "gridgov.vocabulary":
            continue
        for node in ast.walk(module.tree):
            value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
            if not isinstance(value, ast.Tuple | ast.List | ast.Set):
                continue
            if len(value.elts) < 2 or not all(
                isinstance(e, ast.Constant) and isinstance(e.value, str) for e in value.elts
            ):
                continue
            spelt = frozenset(e.value for e in value.elts)  # type: ignore[attr-defined]
            offences += [
                f"{module.name}:{getattr(node, 'lineno', 0)}: {name}"
                for name, words in concepts.items()
                if spelt == words
            ]
    assert offences == []


# ------------------------------------------------------------- public face


class TestPublicFace:
    """docs/api.md lists every public module with exactly the names it offers."""

    def test_module_lines_match_all(self) -> None:
        """Each ``- `gridgov.x` (...): `A`, `B``` line names the module's ``__all__``."""
        import importlib
        import re

        page = (SRC.parent / "docs" / "api.md").read_text(encoding="utf-8")
        lines = re.findall(r"^- `(gridgov[\w.]*)` \(.*?\): (.*)$", page, flags=re.M)
        assert len(lines) > 20
        for name, listed in lines:
            module = importlib.import_module(name)
            assert set(re.findall(r"`(\w+)`", listed)) == set(module.__all__), name

    def test_every_module_is_public_or_private(self) -> None:
        """A module without a leading underscore is listed as public (a line of
        its own, or a package that is), so a new module is a decision, not an
        accident; machinery takes a leading underscore, as attrs's ``_make``."""
        import re

        page = (SRC.parent / "docs" / "api.md").read_text(encoding="utf-8")
        listed = set(re.findall(r"^- `(gridgov[\w.]*)` \(", page, flags=re.M))
        unplaced = [
            name
            for name in modules()
            if name not in ("gridgov", "gridgov.sim", "gridgov.cli")
            and not any(part.startswith("_") for part in name.split("."))
            and name not in listed
            and not any(
                name.startswith(f"{p}.")
                for p in ("gridgov.geo", "gridgov.model", "gridgov.presets")
            )
        ]
        assert unplaced == []
