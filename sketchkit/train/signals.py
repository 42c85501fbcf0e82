"""Ctrl-C handling: the first SIGINT stops training after the current step (and saves ``last/``)."""

from __future__ import annotations

import signal
import threading
from typing import Any


class _GracefulStop(Exception):
    """Raised between steps after a first Ctrl-C."""


class _StopFlag:
    """SIGINT -> finish the current step, save last/, stop. A second Ctrl-C interrupts at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def __enter__(self) -> "_StopFlag":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:  # noqa: ARG002
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
