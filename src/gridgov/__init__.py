"""gridgov: switch a city's grid-governance organisation between normal and emergency mode."""
