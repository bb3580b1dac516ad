"""quick_init: a frozen slots dataclass built faster, otherwise the same class."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field

import pytest

from pipeline.correlation.causes import Silence
from pipeline.correlation.evidence import Bucket, Observation, Run, ScopeLedger
from pipeline.correlation.facts import Ack, Action, Issued, Submission
from pipeline.correlation.frozen import quick_init
from pipeline.correlation.rules import Sync
from pipeline.intake import Accepted, Rejected
from pipeline.worker.correlator import Transition


@dataclass(frozen=True, slots=True)
class Plain:
    name: str
    at: float
    count: int = 3
    note: str | None = None


Quick = quick_init(dataclass(frozen=True, slots=True)(type("Quick", (), {
    "__annotations__": dict(Plain.__annotations__), "count": 3, "note": None})))


def test_same_signature_and_same_values_as_the_generated_init() -> None:
    assert inspect.signature(Quick) == inspect.signature(Plain)
    for args, kwargs in ((("a", 1.0), {}), (("a", 1.0, 4), {"note": "n"}),
                         ((), {"at": 2.0, "name": "b", "count": 0})):
        quick, plain = Quick(*args, **kwargs), Plain(*args, **kwargs)
        assert dataclasses.astuple(quick) == dataclasses.astuple(plain)  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        Quick("a")
    with pytest.raises(TypeError):
        Quick("a", 1.0, 4, None, "extra")


@pytest.mark.parametrize("cls", [Issued, Ack, Submission, Action, Observation, Sync, Accepted,
                                 Rejected, Transition, Bucket, ScopeLedger, Run, Silence])
def test_the_per_event_values_stay_frozen_values(cls: type) -> None:
    values = {f.name: f"v{i}" for i, f in enumerate(dataclasses.fields(cls))}
    one, two = cls(**values), cls(**values)
    assert one == two and hash(one) == hash(two)
    assert dataclasses.asdict(one) == values
    name = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(one, name, "changed")
    assert getattr(dataclasses.replace(one, **{name: "other"}), name) == "other"


def test_what_it_cannot_build_the_same_way_is_refused() -> None:
    @dataclass(slots=True)
    class Mutable:
        name: str

    @dataclass(frozen=True)
    class WithDict:
        name: str

    @dataclass(frozen=True, slots=True)
    class Factory:
        names: list[str] = field(default_factory=list)

    @dataclass(frozen=True, slots=True)
    class PostInit:
        name: str

        def __post_init__(self) -> None:
            pass

    for cls in (Mutable, WithDict, Factory, PostInit):
        with pytest.raises(TypeError):
            quick_init(cls)
