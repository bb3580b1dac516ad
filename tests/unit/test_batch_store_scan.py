"""The restart's table scan: every record of a partition's RocksDB in key order, faust's offset
key left out, keys left as stored (the same pairs as the operator scan, decoded on demand)."""

from __future__ import annotations

import itertools
from pathlib import Path
from types import SimpleNamespace

from rocksdict import Options, Rdict

from pipeline.worker.store import BatchStore, decode_key, encode_key

OFFSET_KEY = b"__faust\0offset__"


def test_scan_reads_every_record_but_the_offset_key(tmp_path: Path) -> None:
    db = Rdict(str(tmp_path / "p0"), options=Options(raw_mode=True))
    try:
        records = {encode_key(f"2411{n:04d}"): bytes([2, n % 256]) for n in range(300)}
        for key, value in records.items():
            db[key] = value
        db[OFFSET_KEY] = b"4711"
        db[OFFSET_KEY + b"\0after"] = b"kept"  # not a key this table writes; read all the same
        table = SimpleNamespace(data=SimpleNamespace(_dbs={0: db}, offset_key=OFFSET_KEY))
        store = BatchStore(table, lambda: None)  # type: ignore[arg-type,return-value]
        scanned = list(store.scan(0))
        assert scanned == [*sorted(records.items()), (OFFSET_KEY + b"\0after", b"kept")]
        assert [(decode_key(k), v) for k, v in scanned[:300]] == [
            (invoice_id, value) for _, invoice_id, value in itertools.islice(store.items(0), 300)]
        assert list(store.scan(1)) == []  # a partition not open here
    finally:
        db.close()
