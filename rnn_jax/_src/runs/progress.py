"""A sweep's progress line on stderr: seeds done, seeds per second, time left."""

from __future__ import annotations

import sys
import time


class Progress:
    """One line, rewritten in place after every chunk; silent when ``enabled`` is false.

    The speed and the time left are measured from the second chunk on (the first one
    compiles), and the first chunk's time is shown apart.

    Args:
      total: seeds this run trains.
      enabled: print anything at all.
      file: where to print (default: stderr).
    """

    def __init__(self, total: int, enabled: bool = True, file=None):
        self.total, self.enabled = total, enabled
        self.file = sys.stderr if file is None else file
        self.first_chunk_s: float | None = None
        self.timed_seeds, self.timed_s = 0, 0.0
        self.started = time.perf_counter()

    def say(self, text: str) -> None:
        """A line of its own (a chunk's line is rewritten in place)."""
        if self.enabled:
            print(text, file=self.file, flush=True)

    def chunk(self, seeds: int, seconds: float, done: int) -> None:
        """Records a chunk of ``seeds`` that took ``seconds``; ``done`` seeds are now done."""
        if self.first_chunk_s is None:
            self.first_chunk_s = seconds
        else:
            self.timed_seeds, self.timed_s = self.timed_seeds + seeds, self.timed_s + seconds
        if not self.enabled:
            return
        bar = "#" * int(30 * done / self.total)
        rate = self.seeds_per_second
        speed = (
            f"{rate:,.0f} seeds/s  eta {(self.total - done) / rate:,.0f}s"
            if rate
            else "eta after the second chunk"
        )
        extra = f"  (compile + first chunk {self.first_chunk_s:.1f}s)"
        print(
            f"\r[{bar:<30}] {done}/{self.total} seeds  {speed}{extra}   ",
            end="" if done < self.total else "\n",
            file=self.file,
            flush=True,
        )

    @property
    def seeds_per_second(self) -> float | None:
        """Steady-state speed (after the first chunk), ``None`` before the second chunk."""
        return self.timed_seeds / self.timed_s if self.timed_seeds and self.timed_s > 0 else None

    def timings(self) -> dict:
        """``train_seconds`` (wall time since the start), ``first_chunk_seconds`` and
        ``seeds_per_second``."""
        return {
            "train_seconds": time.perf_counter() - self.started,
            "first_chunk_seconds": self.first_chunk_s,
            "seeds_per_second": self.seeds_per_second,
        }
