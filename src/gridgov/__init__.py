"""gridgov: switch a city's grid-governance organisation between normal and emergency mode.

The command chain (city -> district -> street -> community -> grid) is a
networkx graph; communities and compounds move through ``transitions`` state
machines; every switch reassigns people and sends them back afterwards.
"""

# First of all: a worker process of the gridgov command leaves Ctrl-C to the command.
from gridgov._interrupts import ignore_in_workers as _ignore_in_workers  # noqa: F401 (on import)
from gridgov.chain import CommandChain
from gridgov.cities import check_bundle, load_city
from gridgov.city import City
from gridgov.clock import Clock, ManualClock, WallClock
from gridgov.depots import load_depots, synth_depots
from gridgov.engine import CommandResult, Engine
from gridgov.errors import (
    AlertError,
    ArgumentError,
    AuthorityError,
    ChainError,
    CityError,
    ClockError,
    CommandError,
    DepotsError,
    FileProblem,
    GeometryError,
    GriddingError,
    GridgovError,
    InvariantError,
    JournalError,
    MissingExtraError,
    NotFoundError,
    PresetError,
    Problem,
    RulesError,
    RunFolderError,
    ScenarioError,
    TransitionError,
    UnknownUnitError,
)
from gridgov.journal import Event, MemoryJournal, SqliteJournal
from gridgov.model import (
    BigPartyCommittee,
    Building,
    Compound,
    Depot,
    GridKind,
    GridWorkerKind,
    Level,
    Organisation,
    Person,
    PersonKind,
    Post,
    Unit,
)
from gridgov.rules import Rules, StaffingRule, TicketRule
from gridgov.supplies import DispatchPlan, SupplyNetwork, SupplyParams, plan_dispatch
from gridgov.tickets import Private, Ticket, TicketChange, TicketDesk

__version__ = "0.1.0"

__all__ = [
    "AlertError",
    "ArgumentError",
    "AuthorityError",
    "BigPartyCommittee",
    "Building",
    "ChainError",
    "City",
    "CityError",
    "Clock",
    "ClockError",
    "CommandChain",
    "CommandError",
    "CommandResult",
    "Compound",
    "Depot",
    "DepotsError",
    "DispatchPlan",
    "Engine",
    "Event",
    "FileProblem",
    "GeometryError",
    "GridKind",
    "GridWorkerKind",
    "GriddingError",
    "GridgovError",
    "InvariantError",
    "JournalError",
    "Level",
    "ManualClock",
    "MemoryJournal",
    "MissingExtraError",
    "NotFoundError",
    "Organisation",
    "Person",
    "PersonKind",
    "Post",
    "PresetError",
    "Private",
    "Problem",
    "Rules",
    "RulesError",
    "RunFolderError",
    "ScenarioError",
    "SqliteJournal",
    "StaffingRule",
    "SupplyNetwork",
    "SupplyParams",
    "Ticket",
    "TicketChange",
    "TicketDesk",
    "TicketRule",
    "TransitionError",
    "Unit",
    "UnknownUnitError",
    "WallClock",
    "check_bundle",
    "load_city",
    "load_depots",
    "plan_dispatch",
    "synth_depots",
]
