"""Venue adapters. One module per venue; each module's `SPEC: VenueSpec` is its registration.

The registry is discovered, not listed: every module of this package that assigns
`SPEC = VenueSpec(...)` at top level is a venue, ordered by `VenueSpec.rank`. Everything else that needs the
venues derives from here: the config's default `venues.enabled`, the
metadata sources (`VenueSpec.metadata_source`), and which venues need every instrument
subscribed for liquidations (`VenueSpec.liquidations_per_symbol`). Adding a venue = one
module + its fixture (tests/fixtures/venues/<id>/) + its test (tests/feeds/test_<id>.py);
tests/feeds/test_registry.py checks that nothing else lists venues.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import pkgutil

from cascade_tui.feeds.base import FrameParser, VenueSpec


def _declares_spec(name: str) -> bool:
    """True when module `name` of this package assigns a module-level `SPEC = VenueSpec(`.
    Read from its source, not imported: the connection loop and the pollers (websockets,
    httpx) must not load for an offline replay that only needs parsers."""
    found = importlib.util.find_spec(f"{__name__}.{name}")
    origin = found.origin if found is not None else None
    if not origin or not origin.endswith(".py"):
        return False
    with open(origin, encoding="utf-8") as fh:
        return any(line.startswith("SPEC = VenueSpec(") for line in fh)


@functools.cache
def _registry() -> dict[str, VenueSpec]:
    found: list[VenueSpec] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or not _declares_spec(info.name):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        candidate = getattr(module, "SPEC", None)
        if isinstance(candidate, VenueSpec):
            if candidate.id != info.name:
                raise RuntimeError(f"feeds/{info.name}.py declares venue id {candidate.id!r}: ids name their module")
            found.append(candidate)
    found.sort(key=lambda s: (s.rank, s.id))
    return {s.id: s for s in found}


def venue_ids() -> tuple[str, ...]:
    """Every venue id, in display order (docs/DESIGN.md §5.1)."""
    return tuple(_registry())


def spec(venue: str) -> VenueSpec:
    """The VenueSpec of a venue id; KeyError names the unknown id."""
    registry = _registry()
    if venue not in registry:
        raise KeyError(f"unknown venue {venue!r}; known: {', '.join(registry)}")
    return registry[venue]


def make_parser(venue: str, metadata: dict | None = None) -> FrameParser:
    return spec(venue).parser(metadata)
