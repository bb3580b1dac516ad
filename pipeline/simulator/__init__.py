"""``invoice-sync simulate``: realistic invoice traffic with a ground truth, and its check.

The generation is pure (:func:`~pipeline.simulator.timeline.timeline`: a scenario and a start
time in, timed records and ground truth out); :mod:`~pipeline.simulator.kafka_io` produces it
on schedule and reads the alerts back; :mod:`~pipeline.simulator.scoring` computes precision
and recall. See ``docs/simulator.md``.
"""
