"""The acknowledgement watermark: the time up to which every acknowledgement is known to be read.

A deadline may fire only once the acks that could have met it were read; otherwise a worker that is
behind (restart, backlog, slow consumer) would alert on invoices whose acks sit unread in Kafka.
Per acknowledgement partition:

* caught up (everything up to the partition's end offset has been processed): the watermark is now;
* behind: the largest ``acknowledged_at`` read so far, capped at now so a producer whose clock runs
  ahead cannot push the watermark into the future.

Pure bookkeeping: the adapter passes offsets, end offsets and the current time in.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class _PartitionMark:
    next_offset: int | None = None
    max_acknowledged_at: float = 0.0


@dataclass(slots=True)
class AckWatermarks:
    """Watermarks of the acknowledgement partitions this worker reads."""

    _marks: dict[int, _PartitionMark] = field(default_factory=dict)

    def observe(self, partition: int, offset: int, acknowledged_at: float, now: float) -> None:
        """Record that the ack at ``offset`` (valid or not) was processed."""
        mark = self._marks.setdefault(partition, _PartitionMark())
        mark.next_offset = offset + 1 if mark.next_offset is None else max(mark.next_offset,
                                                                            offset + 1)
        mark.max_acknowledged_at = max(mark.max_acknowledged_at, min(acknowledged_at, now))

    def observe_offset(self, partition: int, offset: int) -> None:
        """Record a processed ack message that carried no usable time (e.g. a dead letter)."""
        mark = self._marks.setdefault(partition, _PartitionMark())
        mark.next_offset = offset + 1 if mark.next_offset is None else max(mark.next_offset,
                                                                            offset + 1)

    def next_offset(self, partition: int) -> int | None:
        """The offset after the last processed ack of ``partition``, if any was processed."""
        mark = self._marks.get(partition)
        return None if mark is None else mark.next_offset

    def value(self, partition: int, *, end_offset: int | None, committed: int | None,
              now: float) -> float:
        """The watermark of ``partition``.

        ``end_offset`` is the partition's high watermark as last fetched (None: not known yet);
        ``committed`` the group's committed offset (the next offset to read) at assignment, which
        stands in for progress when no ack has been processed since.
        """
        mark = self._marks.get(partition) or _PartitionMark()
        read_up_to = max(mark.next_offset or 0, committed or 0)
        if end_offset is not None and read_up_to >= end_offset:
            return now
        return mark.max_acknowledged_at

    def partitions(self) -> list[int]:
        """Partitions with any recorded progress."""
        return list(self._marks)

    def forget(self, partition: int) -> None:
        """Drop a partition that was revoked from this worker."""
        self._marks.pop(partition, None)
