"""The progress display of `fit(progress=True)`: one object told about each epoch, which
decides what to print and when. It holds no training loop (fastprop.training calls it).

On a live display (a terminal, or a Jupyter output): a tqdm bar over the epochs when tqdm
is installed (`pip install fastprop[progress]`), else one line rewritten in place with "\\r".
Elsewhere (a file, a pipe, CI logs), where a bar or "\\r" would pile up as one long garbled
line: plain lines, the first epoch's, then at most one every LOG_SECONDS, and always the
last."""
from __future__ import annotations

import math
import sys
import time
from typing import Any, Literal, Optional, TextIO

from fastprop._validation import as_int

__all__ = ["Progress"]

# A live line is rewritten at most this often; a log gets at most a line this often.
LIVE_SECONDS = 0.1
LOG_SECONDS = 0.5
WIDTH = 72              # a rewritten line is padded to cover the previous one


def _clock():
    """Seconds, monotonic (a function of its own so tests can set the time)."""
    return time.monotonic()


def _is_live(stream):
    """True when "\\r" rewrites a line: a terminal, or a Jupyter kernel's stream (which
    says it is not a tty, yet renders "\\r")."""
    try:
        if stream.isatty():
            return True
    except (AttributeError, ValueError, OSError):   # no isatty, or a closed file
        pass
    return type(stream).__module__.split(".")[0] == "ipykernel"


def _tqdm_class():
    """tqdm.tqdm when installed, else None (imported at each use: an optional extra)."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


def _number(value):
    return f"{value:.6g}"


class Progress:
    """Reports the epochs of one fit call: `update` after each epoch, `close` at the end
    (also after an error: it ends the line). A context manager that closes itself.

    Parameters
    ----------
    epochs : int
        The number of epochs the fit will run at most, >= 0.
    samples_per_epoch : int
        Its training samples, >= 0.
    stream : text stream, optional
        Where to write (default ``sys.stdout``): live (a bar or a rewritten line) on a
        terminal or in Jupyter, plain lines elsewhere.

    Raises
    ------
    TypeError
        When epochs or samples_per_epoch is not an int, or stream has no ``write``.
    ValueError
        When epochs or samples_per_epoch is negative.
    """

    def __init__(self, epochs: int, samples_per_epoch: int,
                 stream: Optional[TextIO] = None) -> None:
        self.epochs = as_int(epochs, "epochs", minimum=0)
        self.samples_per_epoch = as_int(samples_per_epoch, "samples_per_epoch", minimum=0)
        self.stream = sys.stdout if stream is None else stream
        if not callable(getattr(self.stream, "write", None)):
            raise TypeError(f"stream: expected a text stream (with write), got "
                            f"{type(self.stream).__name__}")
        self.live = _is_live(self.stream)
        self._bar = None
        # no bar for a fit of no epochs: it would print an empty one, where the line prints
        # nothing
        tqdm = _tqdm_class() if self.live and self.epochs else None
        if tqdm is not None:
            self._bar = tqdm(total=self.epochs, file=self.stream, unit="epoch",
                             dynamic_ncols=True, leave=True)
        self._last_shown = None     # _clock() when a line was last written
        self._pending = None        # the newest line, when not yet written
        self._width = 0             # length of the live line on screen
        self._closed = False

    def update(self, epoch_index: int, logs: Optional[dict[str, float]],
               samples_per_second: float) -> None:
        """Report an epoch that ended.

        Parameters
        ----------
        epoch_index : int
            The epoch, 0-based within the fit call.
        logs : dict of str to float
            Its figures (loss, val_loss, accuracy, ...).
        samples_per_second : float
            The training rate so far.

        Raises
        ------
        ValueError
            When this Progress was closed.
        """
        if self._closed:
            raise ValueError("update: this Progress was closed")
        done = epoch_index + 1
        logs = logs or {}
        rate = f"{samples_per_second:,.0f}" if math.isfinite(samples_per_second) else "-"
        if self._bar is not None:
            postfix = {name: _number(value) for name, value in logs.items()}
            postfix["samples/s"] = rate
            self._bar.set_postfix(postfix, refresh=False)
            self._bar.update(done - self._bar.n)     # tqdm limits how often it redraws
            return
        line = f"epoch {done:>{len(str(self.epochs))}}/{self.epochs}"
        for name, value in logs.items():
            line += f"  {name} {_number(value)}"
        line += f"  {rate} samples/s"
        now = _clock()
        interval = LIVE_SECONDS if self.live else LOG_SECONDS
        if (self._last_shown is None or now - self._last_shown >= interval
                or done >= self.epochs):
            self._show(line)
            self._last_shown = now
        else:
            self._pending = line

    def _show(self, line):
        self._pending = None
        if self.live:
            self.stream.write("\r" + line.ljust(max(WIDTH, self._width)))
            self._width = len(line)
        else:
            self.stream.write(line + "\n")
        self._flush()

    def _flush(self):
        if callable(getattr(self.stream, "flush", None)):
            self.stream.flush()

    def close(self) -> None:
        """Shows the last epoch if it was not shown yet and ends the line; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
            return
        if self._pending is not None:
            self._show(self._pending)
        if self.live and self._width:
            self.stream.write("\n")
            self._flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> Literal[False]:
        self.close()
        return False
