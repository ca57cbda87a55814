"""The live source's merged queue against a plain reference model: arrival order out, the
flooding venue's oldest item evicted on overflow, a reconnect marker first in its batch."""

from __future__ import annotations

import random

from cascade_tui.model import RawFrame
from cascade_tui.sources.live import VenueQueues, _Reconnect


def test_queue_matches_a_reference_model_under_random_traffic() -> None:
    rng = random.Random(8)
    for _ in range(200):
        capacity = rng.randint(1, 20)
        queue = VenueQueues(capacity)
        model: list[RawFrame | _Reconnect] = []
        for step in range(300):
            if rng.random() < 0.6:
                venue = rng.choice("abcde")
                item = _Reconnect(venue) if rng.random() < 0.05 else RawFrame(float(step), venue, str(step))
                model.append(item)
                evicted = queue.put(item)
                if len(model) > capacity:
                    counts = {v: sum(1 for m in model if m.venue == v) for v in queue.queues}
                    flooding = max(counts, key=lambda v: counts[v])  # first of the longest, as put() does
                    oldest = next(m for m in model if m.venue == flooding)
                    model.remove(oldest)
                    assert evicted is oldest
                else:
                    assert evicted is None
            elif model:
                batch = queue.pop_batch(rng.randint(1, 5))
                assert batch and all(a is b for a, b in zip(batch, model, strict=False))
                assert all(not isinstance(item, _Reconnect) for item in batch[1:])
                del model[: len(batch)]
            assert list(queue) == model and len(queue) == len(model)


def test_skipped_entries_are_compacted_so_memory_stays_bounded() -> None:
    queue = VenueQueues(100)
    for i in range(100_000):
        queue.put(RawFrame(float(i), "flood", ""))
    assert len(queue) == 100
    assert len(queue._order) <= 2 * 100 + 1  # evicted entries do not pile up unread
