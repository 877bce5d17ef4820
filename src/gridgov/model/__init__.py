"""The immutable city model: units, compounds, buildings, people, organisations."""

from gridgov.model.depots import DEPOT_KINDS, SERVES, Depot
from gridgov.model.organisations import BigPartyCommittee, Organisation, Organisations
from gridgov.model.people import GridWorkerKind, People, Person, PersonKind, Post
from gridgov.model.places import Building, Buildings, Compound, Compounds
from gridgov.model.units import GridKind, Level, Unit

__all__ = [
    "DEPOT_KINDS",
    "SERVES",
    "BigPartyCommittee",
    "Building",
    "Buildings",
    "Compound",
    "Compounds",
    "Depot",
    "GridKind",
    "GridWorkerKind",
    "Level",
    "Organisation",
    "Organisations",
    "People",
    "Person",
    "PersonKind",
    "Post",
    "Unit",
]
