"""Who has templates of the network in use: ready, convertible from stored crops, or in
need of new photos (after ``[vision] network`` changes)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.storage.store import Store


@dataclass(frozen=True)
class Coverage:
    ready: list[int] = field(default_factory=list)  # people with templates of it
    from_crops: list[int] = field(default_factory=list)  # none yet, but crops to make them
    need_photos: list[int] = field(default_factory=list)  # neither: new photos needed


def coverage_of(store: Store, network_checksum: str) -> Coverage:
    """Every person not erased, by what they have of the network with this checksum."""
    with store.unit_of_work() as uow:
        counts = uow.templates.coverage(network_checksum)
    return Coverage(
        sorted(p for p, (same, _) in counts.items() if same > 0),
        sorted(p for p, (same, other) in counts.items() if same == 0 and other > 0),
        sorted(p for p, (same, other) in counts.items() if same == 0 and other == 0),
    )
