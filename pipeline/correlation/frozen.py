"""Frozen value classes built at the cost of plain ones.

A ``@dataclass(frozen=True, slots=True)`` sets each field in ``__init__`` through
``object.__setattr__`` (it must get past the class's own ``__setattr__``, which refuses): on this
project's Python (3.11) that is about six times the cost of a plain slots class, 3-7 µs for a
ten-field fact. The facts and verdicts built once per event (Issued, Ack, Accepted, Observation,
Transition) paid it on every record of the batched worker (issue 11's CPU per event).

:func:`quick_init` replaces the generated ``__init__`` by one that sets each slot through its
member descriptor: same signature and defaults, same instance. The class stays frozen (assigning
a field raises ``FrozenInstanceError``), compares, hashes, ``replace``-s and ``asdict``-s as
before: only construction is cheaper.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def quick_init(cls: type[T]) -> type[T]:
    """Give the frozen slots dataclass ``cls`` a faster ``__init__`` of the same signature.

    Refuses what that ``__init__`` would not do the same way: a non-frozen or dict-backed class,
    ``__post_init__``, default factories, keyword-only or ``init=False`` fields.
    """
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__}: quick_init needs a frozen slots dataclass")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: quick_init does not run __post_init__")
    namespace: dict[str, Any] = {}
    signature: list[str] = []
    body: list[str] = []
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        name = field.name
        if (not field.init or field.kw_only is True
                or field.default_factory is not dataclasses.MISSING):
            raise TypeError(f"{cls.__name__}.{name}: quick_init needs plain init fields")
        namespace[f"_set_{name}"] = cls.__dict__[name].__set__
        if field.default is dataclasses.MISSING:
            signature.append(name)
        else:
            namespace[f"_default_{name}"] = field.default
            signature.append(f"{name}=_default_{name}")
        body.append(f"    _set_{name}(self, {name})")
    source = f"def __init__(self, {', '.join(signature)}):\n" + "\n".join(body or ["    pass"])
    exec(source, namespace)  # field names only, from dataclasses.fields()
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = cls.__init__.__doc__
    init.__annotations__ = dict(cls.__init__.__annotations__)
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
