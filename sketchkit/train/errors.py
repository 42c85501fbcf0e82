"""Errors the training engine raises when training cannot go on."""

from __future__ import annotations

class TrainingError(RuntimeError):
    """Training cannot go on (e.g. a non-finite loss); the last good checkpoint is kept."""


class NonFiniteLossError(TrainingError):
    """The loss or the gradient norm became NaN or infinite at a given stage and step."""

    def __init__(self, message: str, *, stage: str, step: int) -> None:
        super().__init__(message)
        self.stage = stage
        self.step = step
