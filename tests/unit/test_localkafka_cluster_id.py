"""KRaft cluster ids the storage tool accepts."""

from __future__ import annotations

import base64

from pipeline.localkafka.server_properties import new_cluster_id


def test_cluster_ids_are_16_bytes_and_never_look_like_an_option() -> None:
    # 2,000 draws: with a 1-in-64 chance per draw, a regression shows with near certainty.
    for _ in range(2000):
        cluster_id = new_cluster_id()
        assert len(cluster_id) == 22 and not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
