"""One small registry type shared by metrics, merge methods, model adapters and tasks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from medmix.errors import MedmixError, UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name → entry map with did-you-mean lookups; names are snake_case."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T, *, replace: bool = False) -> T:
        if not name or not name.replace("_", "a").isalnum() or name.lower() != name:
            raise MedmixError(f"{self.kind} name {name!r} must be snake_case (lowercase letters, digits, '_').")
        if name in self._entries and not replace:
            raise MedmixError(
                f"A {self.kind} named {name!r} is already registered; pick another name or pass replace=True."
            )
        self._entries[name] = entry
        return entry

    def decorator(self, name: str, make: Callable[[Callable], T], *, replace: bool = False):
        def wrap(fn: Callable) -> Callable:
            self.add(name, make(fn), replace=replace)
            return fn

        return wrap

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._entries) from None

    def remove(self, name: str) -> None:
        self._entries.pop(name, None)

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
