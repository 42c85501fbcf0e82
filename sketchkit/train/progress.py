"""The rich progress bar shown by rank 0."""

from __future__ import annotations


class _Progress:
    """Rich progress bar (step, loss, steps/s, ETA) on rank 0 unless quiet."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress = None
        self._task = None
        self._console = None
        if enabled:
            from rich.console import Console

            self._console = Console(stderr=True)

    def print(self, message: str) -> None:
        if self.enabled and self._console is not None:
            self._console.print(message, highlight=False)

    def start(self, stage: str, total: int, completed: int) -> None:
        if not self.enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[rate]} steps/s"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=self._console, transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(stage, total=total, completed=completed, loss="-", rate="-")

    def update(self, step: int, loss: float, rate: float) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=step, loss=f"{loss:.4g}", rate=f"{rate:.1f}")

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
