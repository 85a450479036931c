"""fit's progress display (fastprop.progress.Progress) on fake streams, a terminal and a log
file, with tqdm installed and not (its import made to fail), under a fake clock: what is
written, and how often."""
import io
import sys

import pytest

from fastprop import progress as progress_mod
from fastprop.progress import Progress


class FakeStream(io.StringIO):
    """A text stream that says whether it is a terminal."""

    def __init__(self, tty):
        super().__init__()
        self.tty = tty
        self.flushes = 0

    def isatty(self):
        return self.tty

    def flush(self):
        self.flushes += 1


@pytest.fixture
def clock(monkeypatch):
    """The time Progress sees: set now[0]."""
    now = [0.0]
    monkeypatch.setattr(progress_mod, "_clock", lambda: now[0])
    return now


@pytest.fixture
def no_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)     # `from tqdm import tqdm` fails


LOGS = [{"loss": 0.5, "val_loss": 0.25}, {"loss": 0.125, "val_loss": 0.375},
        {"loss": 0.0625, "val_loss": 0.3}]


# ---- without tqdm: today's line ------------------------------------------------------------
def test_terminal_line_rewritten_in_place(no_tqdm, clock):
    out = FakeStream(tty=True)
    p = Progress(3, 100, stream=out)
    for e, logs in enumerate(LOGS):
        clock[0] += 1.0
        p.update(e, logs, 1000.0 * (e + 1))
    p.close()
    text = out.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1
    frames = [f.rstrip() for f in text[:-1].split("\r")]
    assert frames == ["",
                      "epoch 1/3  loss 0.5  val_loss 0.25  1,000 samples/s",
                      "epoch 2/3  loss 0.125  val_loss 0.375  2,000 samples/s",
                      "epoch 3/3  loss 0.0625  val_loss 0.3  3,000 samples/s"]
    # each frame covers the previous one
    assert all(len(f) >= 72 for f in text[:-1].split("\r")[1:])


def test_terminal_line_names_every_logged_metric(no_tqdm, clock):
    out = FakeStream(tty=True)
    with Progress(12, 10, stream=out) as p:
        p.update(11, {"loss": 1.5, "val_loss": 2.0, "accuracy": 0.75, "val_accuracy": 0.5,
                      "lr": 0.001}, 12.4)
    assert out.getvalue().strip() == ("epoch 12/12  loss 1.5  val_loss 2  accuracy 0.75  "
                                      "val_accuracy 0.5  lr 0.001  12 samples/s")


def test_terminal_rewrites_at_most_every_tenth_of_a_second_and_always_the_last(no_tqdm, clock):
    out = FakeStream(tty=True)
    p = Progress(50, 10, stream=out)
    for e in range(50):
        clock[0] = e * 0.03               # 0.03 s an epoch
        p.update(e, {"loss": float(e)}, 1.0)
    p.close()
    shown = [int(f.split()[1].split("/")[0]) for f in out.getvalue().split("\r")[1:]]
    # the first, then one each time 0.1 s have passed since the last shown, and the last
    expected, last = [1], 0.0
    for e in range(1, 49):
        if e * 0.03 - last >= 0.1:
            expected.append(e + 1)
            last = e * 0.03
    assert shown == expected + [50]


def test_log_file_gets_plain_lines_a_few_a_second(no_tqdm, clock):
    out = FakeStream(tty=False)
    p = Progress(40, 10, stream=out)
    for e in range(40):
        clock[0] = e * 0.1                # 0.1 s an epoch: 4 s in all
        p.update(e, {"loss": 1.0}, 100.0)
    p.close()
    text = out.getvalue()
    assert "\r" not in text and text.endswith("\n")
    lines = text.splitlines()
    epochs = [int(line.split()[1].split("/")[0]) for line in lines]
    assert epochs[0] == 1 and epochs[-1] == 40
    times = [(e - 1) * 0.1 for e in epochs]
    assert all(b - a >= 0.5 - 1e-9 for a, b in zip(times[:-2], times[1:-1]))
    assert len(lines) <= 2 + 4 / 0.5
    assert lines[0] == "epoch  1/40  loss 1  100 samples/s"


def test_log_file_gets_every_epoch_when_slow(no_tqdm, clock):
    out = FakeStream(tty=False)
    p = Progress(3, 10, stream=out)
    for e in range(3):
        clock[0] = e * 2.0
        p.update(e, {"loss": 1.0}, 5.0)
    p.close()
    assert out.getvalue() == "".join(f"epoch {e}/3  loss 1  5 samples/s\n" for e in (1, 2, 3))


@pytest.mark.parametrize("tty", [True, False])
def test_an_early_stop_still_shows_the_last_epoch(no_tqdm, clock, tty):
    out = FakeStream(tty=tty)
    p = Progress(100, 10, stream=out)
    for e in range(7):                    # no time passes: only the first is shown at once
        p.update(e, {"loss": 1.0 / (e + 1)}, 1.0)
    assert "epoch   7/100" not in out.getvalue()
    p.close()
    last = out.getvalue().replace("\r", "\n").split("\n")
    assert [line.rstrip() for line in last if line.strip()][-1] == \
        "epoch   7/100  loss 0.142857  1 samples/s"


def test_close_is_idempotent_and_silent_without_epochs(no_tqdm, clock):
    for tty in (True, False):
        out = FakeStream(tty=tty)
        p = Progress(0, 10, stream=out)
        p.close()
        p.close()
        assert out.getvalue() == ""
        with pytest.raises(ValueError, match="closed"):
            p.update(0, {"loss": 1.0}, 1.0)


def test_infinite_rate_is_shown_as_a_dash(no_tqdm, clock):
    out = FakeStream(tty=False)
    with Progress(1, 10, stream=out) as p:
        p.update(0, {"loss": 2.0}, float("inf"))
    assert out.getvalue() == "epoch 1/1  loss 2  - samples/s\n"


def test_default_stream_is_stdout_at_construction(no_tqdm, clock, capsys):
    with Progress(1, 1) as p:
        p.update(0, {"loss": 3.0}, 1.0)
    assert "epoch 1/1  loss 3  1 samples/s" in capsys.readouterr().out


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="epochs"):
        Progress(-1, 10, stream=FakeStream(False))
    with pytest.raises(TypeError, match="samples_per_epoch"):
        Progress(1, 1.5, stream=FakeStream(False))
    with pytest.raises(TypeError, match="stream"):
        Progress(1, 10, stream=object())


# ---- with tqdm ---------------------------------------------------------------------------
def test_tqdm_bar_on_a_terminal(clock):
    pytest.importorskip("tqdm")
    out = FakeStream(tty=True)
    p = Progress(3, 100, stream=out)
    assert p._bar is not None
    for e, logs in enumerate(LOGS):
        p.update(e, logs, 1000.0 * (e + 1))
    p.close()
    text = out.getvalue()
    final = text.replace("\n", "\r").split("\r")
    final = [f for f in final if f.strip()][-1]
    assert "3/3" in final and "100%" in final
    assert "loss=0.0625" in final and "val_loss=0.3" in final
    assert "samples/s=3,000" in final
    assert "epoch 1/3" not in text          # not the plain line


def test_tqdm_bar_counts_the_epochs_an_early_stop_ran(clock):
    pytest.importorskip("tqdm")
    out = FakeStream(tty=True)
    p = Progress(10, 100, stream=out)
    for e in range(4):
        p.update(e, {"loss": 1.0}, 10.0)
    p.close()
    final = [f for f in out.getvalue().replace("\n", "\r").split("\r") if f.strip()][-1]
    assert "4/10" in final


def test_tqdm_is_not_used_for_a_log_file(clock):
    pytest.importorskip("tqdm")
    out = FakeStream(tty=False)
    with Progress(2, 100, stream=out) as p:
        assert p._bar is None
        for e in range(2):
            clock[0] = e * 1.0
            p.update(e, {"loss": 0.5}, 10.0)
    assert out.getvalue() == ("epoch 1/2  loss 0.5  10 samples/s\n"
                              "epoch 2/2  loss 0.5  10 samples/s\n")


def test_a_jupyter_stream_counts_as_live(no_tqdm, clock):
    # ipykernel's OutStream says isatty() is False, yet renders "\r"
    Kernel = type("OutStream", (FakeStream,), {"__module__": "ipykernel.iostream"})
    out = Kernel(tty=False)
    with Progress(1, 1, stream=out) as p:
        p.update(0, {"loss": 1.0}, 1.0)
    assert out.getvalue().startswith("\repoch 1/1")


def test_tqdm_prints_nothing_for_no_epochs(clock):
    pytest.importorskip("tqdm")
    out = FakeStream(tty=True)
    Progress(0, 100, stream=out).close()
    assert out.getvalue() == ""
