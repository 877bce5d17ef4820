"""The immutable city model: units, compounds, buildings, people, organisations."""

from gridgov.model.depots import DEPOT_KINDS, SERVES, Depot
from gridgov.model.organisations import BigPartyCommittee, Organisation
from gridgov.model.people import GridWorkerKind, People, Person, PersonKind, Post
from gridgov.model.places import Building, Buildings, Compound
from gridgov.model.units import GridKind, Level, Unit

__all__ = [
    "DEPOT_KINDS",
    "SERVES",
    "BigPartyCommittee",
    "Building",
    "Buildings",
    "Compound",
    "Depot",
    "GridKind",
    "GridWorkerKind",
    "Level",
    "Organisation",
    "People",
    "Person",
    "PersonKind",
    "Post",
    "Unit",
]
