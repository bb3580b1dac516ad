"""The acknowledgement watermark: the time up to which every acknowledgement is known to be read.

A deadline may fire only once the acks that could have met it were read; otherwise a worker that is
behind (restart, backlog, slow consumer) would alert on invoices whose acks sit unread in Kafka.
The rule uses offsets, which Kafka orders, never ``acknowledged_at``, which producers stamp in any
order (docs/watermark.md has the proof):

* the adapter records *samples* ``(t, E)``: ``t`` read from the worker's clock *before* asking the
  broker for the ack partition's end offset, ``E`` the broker's answer. Every ack appended to the
  partition before ``t`` has an offset below ``E``;
* *progress* is the offset after the last processed ack (or, before any was processed since the
  assignment, the group's committed offset);
* the watermark is the latest ``t`` whose ``E <= progress``: every ack appended before it has been
  processed. A deadline ``D`` may fire once the watermark is ``>= D``.

A *hold* (after the worker regained a broker it had lost: end-offset requests failed, then one was
answered) caps every watermark at the last contact before the loss for a settle period, so acks
that producers buffered during the loss can land before the deadlines of the loss fire.

Samples are bounded: one that a later sample dominates (later ``t``, no larger ``E``) or that
progress has passed is dropped, and past ``MAX_SAMPLES`` the closest ones are thinned out.
Dropping a sample can only lower the watermark, never raise it: no deadline fires early for it.

Pure bookkeeping: the adapter passes offsets, samples and the current time in.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

#: A gap in contact with the broker shorter than this (seconds, from the last answer before it to
#: the first after) is not treated as a loss: one request timing out during a leader move would
#: otherwise hold every deadline for the whole settle period.
MIN_LOSS = 10.0
#: Samples kept per partition while the consumer is behind them (a sample per tick: an hour of
#: backlog at 1 s ticks thins to about one sample every 28 s, the watermark's step then).
MAX_SAMPLES = 128


@dataclass(slots=True)
class _PartitionMark:
    #: One past the highest offset processed WITHOUT a hole below it (contiguous progress).
    next_offset: int | None = None
    #: The lowest offset processed since the mark was made: above the committed offset it
    #: means records between them were never processed here (a batch lost in a rebalance).
    first_seen: int | None = None
    #: The latest sample time whose end offset progress has reached (None: none yet).
    reached: float | None = None
    #: Samples not reached yet, strictly increasing in both time and end offset.
    samples: deque[tuple[float, int]] = field(default_factory=deque)


@dataclass(slots=True)
class _Hold:
    at: float
    until: float


@dataclass(slots=True)
class AckWatermarks:
    """Watermarks of the acknowledgement partitions this worker reads."""

    _marks: dict[int, _PartitionMark] = field(default_factory=dict)
    _hold: _Hold | None = None
    #: When the broker last answered an end-offset request (the time the request was sent).
    _last_contact: float | None = None
    #: Since when the broker is lost (the last contact before the failures), None if it is not.
    _lost_since: float | None = None

    def sample(self, partition: int, at: float, end_offset: int) -> None:
        """Record that every ack appended to ``partition`` before ``at`` lies below
        ``end_offset`` (``at`` must be taken before the end offset was asked for)."""
        samples = self._marks.setdefault(partition, _PartitionMark()).samples
        if samples and samples[-1][0] >= at:
            return  # out of order (two requests in flight): keeping it would gain nothing sure
        # A later sample with no larger end offset is reached whenever they are: drop them.
        while samples and samples[-1][1] >= end_offset:
            samples.pop()
        samples.append((at, end_offset))
        if len(samples) > MAX_SAMPLES:
            # Drop the inner sample whose neighbours are closest in time: the steps stay even
            # over the whole backlog, and the watermark is never higher for it.
            gaps = [samples[i + 1][0] - samples[i - 1][0] for i in range(1, len(samples) - 1)]
            del samples[1 + gaps.index(min(gaps))]

    def observe_offset(self, partition: int, offset: int) -> None:
        """Record that the ack-topic message at ``offset`` (valid or dead-lettered) was
        processed: its effect is in the table."""
        mark = self._marks.setdefault(partition, _PartitionMark())
        # Progress is contiguous: an offset beyond next_offset means records in between were
        # not processed (a fetched batch dropped in a rebalance, read again later from the
        # committed offset). Counting past them would let a deadline fire while an ack in the
        # hole is unread (fault suite, rebalance scenario); the hole is filled when they are.
        if mark.next_offset is None:
            mark.next_offset = offset + 1
        elif offset <= mark.next_offset:
            mark.next_offset = max(mark.next_offset, offset + 1)
        mark.first_seen = offset if mark.first_seen is None else min(mark.first_seen, offset)

    def next_offset(self, partition: int) -> int | None:
        """The offset after the last processed ack of ``partition``, if any was processed."""
        mark = self._marks.get(partition)
        return None if mark is None else mark.next_offset

    def hold(self, *, at: float, until: float) -> None:
        """Keep every watermark at or below ``at`` until the clock reaches ``until``.

        Overlapping holds combine into the stricter of both.
        """
        current = self._hold
        if current is not None and current.until > at:
            at, until = min(at, current.at), max(until, current.until)
        self._hold = _Hold(at=at, until=until)

    def broker_lost(self, at: float) -> bool:
        """An end-offset request sent at ``at`` failed. True if this starts a loss.

        Only a broker this worker had reached can be lost: failures while it starts up (the
        consumer still joining) are not a loss, or every start would hold every deadline.
        """
        if self._lost_since is not None or self._last_contact is None:
            return False
        self._lost_since = self._last_contact
        return True

    def broker_reached(self, at: float, *, settle: float, now: float) -> float | None:
        """An end-offset request sent at ``at`` was answered (at ``now``).

        If the broker had been lost (for MIN_LOSS or longer), acks that producers buffered
        meanwhile may still be on their way: every watermark is held at the last contact before
        the loss until ``now + settle``. Returns the end of that settle period, or None.
        """
        lost, self._lost_since = self._lost_since, None
        self._last_contact = at if self._last_contact is None else max(self._last_contact, at)
        if lost is None or now - lost < MIN_LOSS:
            return None
        if settle > 0:
            self.hold(at=lost, until=now + settle)
        return now + settle

    def held_until(self, now: float) -> float | None:
        """When the current hold ends (None: no hold at ``now``)."""
        hold = self._hold
        return hold.until if hold is not None and now < hold.until else None

    def value(self, partition: int, *, committed: int | None, now: float) -> float:
        """The watermark of ``partition`` (0.0: nothing is known to be read).

        ``committed`` is the group's committed offset (the next offset to read) loaded at
        assignment: it stands for progress until an ack is processed here. Only samples taken
        by this worker count; the adapter forgets a partition when it is revoked.
        """
        mark = self._marks.get(partition)
        if mark is None:
            return 0.0
        processed = mark.next_offset or 0
        if committed is not None and mark.first_seen is not None and mark.first_seen > committed:
            processed = 0  # a hole between the committed offset and what was processed here
        progress = max(processed, committed or 0)
        samples = mark.samples
        while samples and samples[0][1] <= progress:
            mark.reached = samples.popleft()[0]
        if mark.reached is None:
            return 0.0
        watermark = min(mark.reached, now)
        hold = self._hold
        if hold is not None:
            if now < hold.until:
                watermark = min(watermark, hold.at)
            else:
                self._hold = None
        return watermark

    def partitions(self) -> list[int]:
        """Partitions with any recorded progress or sample."""
        return list(self._marks)

    def forget(self, partition: int) -> None:
        """Drop a partition that was revoked from this worker (its samples count no more)."""
        self._marks.pop(partition, None)
