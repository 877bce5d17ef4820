"""Outbreak drivers: the interface, and the registry a scenario names them from.

A *driver* is where confirmed cases come from in a simulation. It has the
small :class:`OutbreakDriver` interface: the runner binds it to the engine
once, then at each step tells it the zones of the compounds, and the driver
answers with the cases confirmed during that step (compound and time).

A scenario names its driver (``[outbreak] driver = "compound"``); the registry
maps that name to the driver's factory, given as ``"module:attribute"`` and
imported only when a driver of that name is built, so that a driver behind an
extra (Covasim) costs nothing until asked for, and no module of ``sim/``
imports the drivers it does not run. Built in:

========== ================================================ ==================
name       driver                                           needs
========== ================================================ ==================
compound   :class:`gridgov.sim.outbreak.CompoundOutbreak`   numpy
replay     :class:`gridgov.sim.outbreak.ReplayOutbreak`     nothing
covasim    :class:`gridgov.sim.covasim.CovasimOutbreak`     the covasim extra
========== ================================================ ==================

:func:`register_driver` adds another; its factory is called as
``factory(city, spec, seed)`` with the scenario's :class:`OutbreakSpec`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from gridgov.errors import GridgovError, NotFoundError

if TYPE_CHECKING:  # types only: this module sits below the drivers and the scenario
    from gridgov.city import City
    from gridgov.engine import Engine
    from gridgov.sim.scenario import OutbreakSpec

__all__ = ["DRIVERS", "OutbreakDriver", "driver_names", "make_driver", "register_driver"]


class OutbreakDriver(Protocol):
    """What the runner needs of an outbreak driver."""

    def bind(self, engine: Engine) -> None:
        """Called once before the first step with the engine of the run.

        A driver that reads governance state (point leads, staffed posts) off
        the engine keeps it; the others do nothing.
        """
        ...

    def step(self, day: float, days: float, zones: Mapping[str, str]) -> list[tuple[str, float]]:
        """Advance from ``day`` by ``days``; return the cases confirmed meanwhile.

        Args:
            day: the start of the step, in days from the start of the run.
            days: the length of the step, in days.
            zones: every compound's zone now.

        Returns:
            (compound, day confirmed) pairs, in time order.
        """
        ...

    @property
    def infections(self) -> int:
        """Infections so far (confirmed or not)."""
        ...

    @property
    def new_infections(self) -> int:
        """Infections during the last step."""
        ...


#: Driver name -> ``"module:attribute"`` of its factory, ``factory(city, spec, seed)``.
DRIVERS: dict[str, str] = {
    "compound": "gridgov.sim.outbreak:CompoundOutbreak.from_spec",
    "replay": "gridgov.sim.outbreak:ReplayOutbreak.from_spec",
    "covasim": "gridgov.sim.covasim:CovasimOutbreak.from_spec",
}


def register_driver(name: str, factory: str) -> None:
    """Make ``name`` a driver scenarios may name.

    Args:
        name: the name a scenario gives as ``outbreak.driver``.
        factory: ``"module:attribute"`` (dots allowed in the attribute) of a
            callable ``factory(city, spec, seed) -> OutbreakDriver``.

    Raises:
        GridgovError: ``factory`` is not of the form ``module:attribute``.
    """
    module, _, attribute = factory.partition(":")
    if not module or not attribute:
        raise GridgovError(f"driver factory {factory!r}: expected 'module:attribute'")
    DRIVERS[name] = factory


def driver_names() -> tuple[str, ...]:
    """The names a scenario may give as ``outbreak.driver``, in registration order."""
    return tuple(DRIVERS)


def make_driver(city: City, spec: OutbreakSpec, seed: int) -> OutbreakDriver:
    """The driver a scenario asks for, built for ``city``.

    Raises:
        GridgovError: an unknown driver, or an external one whose extra is
            missing (the driver's own error).
    """
    factory = DRIVERS.get(spec.driver)
    if factory is None:
        message = f"unknown outbreak driver {spec.driver!r} (expected {_names_text()})"
        raise NotFoundError(spec.driver, "outbreak driver;", message=message)
    module_name, _, attribute = factory.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    driver: OutbreakDriver = target(city, spec, seed)
    return driver


def _names_text() -> str:
    names = list(DRIVERS)
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]
