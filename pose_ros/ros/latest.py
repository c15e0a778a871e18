"""A one-item mailbox: producers overwrite, the consumer always gets the newest item.

The node's image callback puts every frame here and the inference worker takes from it, so a
slow model never builds a queue of stale images: frames that were overwritten are counted.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestSlot(Generic[T]):
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: T | None = None
        self._has_item = False
        self._closed = False
        self.received = 0
        self.dropped = 0

    def put(self, item: T) -> None:
        """Store `item`, replacing (and counting as dropped) one the consumer has not taken."""
        with self._cond:
            if self._has_item:
                self.dropped += 1
            self._item, self._has_item = item, True
            self.received += 1
            self._cond.notify()

    def take(self, timeout_s: float | None = None) -> T | None:
        """The newest item, waiting up to `timeout_s`; None on timeout or after close()."""
        with self._cond:
            self._cond.wait_for(lambda: self._has_item or self._closed, timeout=timeout_s)
            if not self._has_item:
                return None
            item, self._item, self._has_item = self._item, None, False
            return item

    def close(self) -> None:
        """Wake a waiting consumer for shutdown."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
