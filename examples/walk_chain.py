"""Build the small preset and walk the chain of command of one building."""

from gridgov.presets import small

city = small(seed=0)
building = sorted(city.buildings)[0]
print(f"{building}: {city.households(building)} households")
for node in city.chain_of_command(building):
    unit = city.chain.unit(node)
    print(f"  {unit.level:<9} {node:<18} {unit.name}")
compound = city.building(building).compound
print(f"compound {compound} is covered by grids {city.grids_of_compound(compound)}")
