"""Registries: the one list of names for each of the method's choices (graph, loss, word vectors,
model, training mode).

Modelled on ``backbones.BACKBONES`` and timm's ``@register_model``: an entry is registered once,
beside the function that builds it, and declares the config fields it reads. The config checks a
choice against its registry, and the run key holds the fields the chosen entries read — so a field
a run does not use is out of its key without a hand-kept list.

    GRAPHS = Registry("graph")

    @GRAPHS.register("binary", reads=("tau", "graph_labels"))
    def binary_graph(cfg, train_positives): ...

A choice the config must know without loading torch (the model, the training mode) is declared in
the config and given its builder where torch is imported (:meth:`Registry.implement`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Entry:
    """One registered choice: its name, its builder, the config fields the builder reads, marks
    that go into the run key whenever it is chosen (what changes its numbers without a field of
    its own), the datasets it works on (None: every dataset), and — for a model — whether its head
    reads the backbone's feature map (N, D, h, w) instead of its pooled vector (N, D)."""

    name: str
    build: Callable | None
    reads: tuple[str, ...] = ()
    key_marks: Mapping[str, str] = field(default_factory=dict)
    datasets: tuple[str, ...] | None = None
    needs_map: bool = False


class Registry:
    """The entries for the config field ``field``, in registration order. A name ending in ``:``
    is a prefix (``official:voc2007``); ``fallback`` is the entry for any other value (a file path)."""

    def __init__(self, field: str, fallback: str | None = None):
        self.field, self.fallback = field, fallback
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, *, reads: tuple[str, ...] = (), key_marks: Mapping[str, str] | None = None,
                 datasets: tuple[str, ...] | None = None, needs_map: bool = False) -> Callable[[Callable], Callable]:
        def add(build: Callable | None) -> Callable | None:
            if name in self._entries:
                raise ValueError(f"{self.field} {name!r} is registered twice")
            self._entries[name] = Entry(name, build, tuple(reads), dict(key_marks or {}), datasets, needs_map)
            return build
        return add

    def declare(self, name: str, *, reads: tuple[str, ...] = (), key_marks: Mapping[str, str] | None = None,
                datasets: tuple[str, ...] | None = None, needs_map: bool = False) -> Registry:
        """An entry without a builder yet (a choice the config checks without loading torch: a
        model, a training mode): its name, the fields it reads, its key marks and (a model) whether
        its head reads the feature map. Returns the registry, to chain."""
        self.register(name, reads=reads, key_marks=key_marks, datasets=datasets, needs_map=needs_map)(None)
        return self

    def implement(self, name: str) -> Callable[[Callable], Callable]:
        """The builder of the declared entry ``name`` (:meth:`declare`), registered beside the code it
        builds: the declaration keeps its fields, the registry gains the function to call."""
        def add(build: Callable) -> Callable:
            if name not in self._entries:
                raise ValueError(f"{self.field} {name!r} is not declared; declared: {self.names()}")
            self._entries[name] = replace(self._entries[name], build=build)
            return build
        return add

    def names(self) -> tuple[str, ...]:
        return tuple(n for n in self._entries if n != self.fallback)

    def fields_read(self) -> set[str]:
        """Every field some entry reads: in a run's key only where its entry is chosen."""
        return {f for e in self._entries.values() for f in e.reads}

    def __contains__(self, value: str) -> bool:
        return self._find(value) is not None

    def __getitem__(self, value: str) -> Entry:
        entry = self._find(value)
        if entry is None:
            raise ValueError(f"{self.field} must be one of {self.names()}, got {value!r}")
        return entry

    def _find(self, value: str) -> Entry | None:
        if value in self._entries:
            return self._entries[value]
        for name, entry in self._entries.items():
            if name.endswith(":") and value.startswith(name):
                return entry
        return self._entries.get(self.fallback) if self.fallback else None

    def build(self, cfg, *args, **kwargs):
        """The chosen entry's builder called with ``cfg`` and the rest."""
        return self[getattr(cfg, self.field)].build(cfg, *args, **kwargs)
