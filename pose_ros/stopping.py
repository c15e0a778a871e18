"""SIGINT and SIGTERM for the `pose-ros` command: a stop that leaves every output readable.

`timeout`, `docker stop`, systemd and CI cancellation send SIGTERM; a user presses Ctrl-C
(SIGINT). Both are handled alike: outside a `deferred()` block the signal raises `Interrupted`
(a KeyboardInterrupt, so every existing `except KeyboardInterrupt` applies) at once. Inside it
the first signal only sets `requested` and the code raises at its next safe point: the runner
after the frame in hand, once its writers are closed; start-up after its imports and model
loading, because an exception raised in Python code that native code called (torch's import
runs some under pybind11) aborts the process instead ("terminate called after throwing an
instance of 'pybind11::error_already_set'", 2 of 26 stops 0.5-0.75 s into start-up here).
`immediate()` reopens a safe wait inside it (the model download). A second signal raises at
once. The exit status is 128 + the signal number (130 for SIGINT, 143 for SIGTERM), as a shell
reports a process killed by it.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

HANDLED = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """Raised for SIGINT or SIGTERM; `exit_status` is what the process should exit with."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        self.exit_status = 128 + signum


class StopSignals:
    """The process's SIGINT/SIGTERM handler; one instance, STOP, below."""

    def __init__(self) -> None:
        self.requested: int | None = None
        self._deferring = 0
        self.installed = False

    def install(self) -> None:
        """Handle SIGINT and SIGTERM from now on (main thread only, as Python requires)."""
        for signum in HANDLED:
            signal.signal(signum, self._handle)
        self.installed = True

    def _handle(self, signum: int, frame) -> None:
        if self._deferring and self.requested is None:
            self.requested = signum
            return
        raise Interrupted(signum)

    @contextmanager
    def deferred(self) -> Iterator[StopSignals]:
        """Inside: the first signal sets `requested` (check it between frames) instead of
        raising; the caller raises `Interrupted(requested)` once its outputs are closed."""
        self._deferring += 1
        try:
            yield self
        finally:
            self._deferring -= 1

    @contextmanager
    def immediate(self) -> Iterator[StopSignals]:
        """Inside a deferred() block, around a wait that is safe to interrupt (a subprocess):
        signals raise at once again, and one that came before raises on entry."""
        self.raise_if_requested()
        saved, self._deferring = self._deferring, 0
        try:
            yield self
        finally:
            self._deferring = saved

    def raise_if_requested(self) -> None:
        if self.requested is not None:
            signum, self.requested = self.requested, None
            raise Interrupted(signum)


STOP = StopSignals()
