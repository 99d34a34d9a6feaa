"""Results kept in the process, keyed by the content of what they were made from: the most recently used only."""
from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any


class RecentResults:
    """The ``size`` most recently used results, each under a key that names everything it was made from (equal
    keys, equal results). One eviction rule for every such cache of the package."""

    def __init__(self, size: int):
        self.size = size
        self._kept: dict = {}  # insertion order = use order, the most recent last

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The result kept under ``key``, else ``make()`` (kept unless it raises); ``key`` is now the most recent."""
        try:
            value = self._kept.pop(key)
        except KeyError:
            value = make()
        self._kept[key] = value
        while len(self._kept) > self.size:
            del self._kept[next(iter(self._kept))]
        return value

    def clear(self) -> None:
        self._kept.clear()

    def __len__(self) -> int:
        return len(self._kept)
