"""The stop handler's rules: raise at once, defer inside deferred(), reopen inside immediate().

The handler is called directly (as Python calls it for a signal) on a fresh StopSignals, so no
real signal reaches pytest. test_kill.py stops real `pose-ros run` processes.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from pose_ros.stopping import Interrupted, StopSignals


def test_outside_deferred_a_signal_raises_at_once():
    stop = StopSignals()
    with pytest.raises(Interrupted) as info:
        stop._handle(signal.SIGTERM, None)
    assert info.value.exit_status == 143 and info.value.signal_name == "SIGTERM"


def test_deferred_records_the_first_signal_and_raises_on_the_second():
    stop = StopSignals()
    with stop.deferred():
        stop._handle(signal.SIGINT, None)
        assert stop.requested == signal.SIGINT
        with pytest.raises(Interrupted):
            stop._handle(signal.SIGTERM, None)
    with pytest.raises(Interrupted) as info:
        stop.raise_if_requested()
    assert info.value.exit_status == 130 and stop.requested is None


def test_immediate_inside_deferred_raises_a_waiting_stop_on_entry_and_new_ones_at_once():
    stop = StopSignals()
    with stop.deferred():
        stop._handle(signal.SIGINT, None)
        with pytest.raises(Interrupted), stop.immediate():
            pass
        with stop.immediate():
            with pytest.raises(Interrupted):
                stop._handle(signal.SIGTERM, None)
        stop._handle(signal.SIGTERM, None)        # deferring again after immediate()
        assert stop.requested == signal.SIGTERM


def test_a_signal_during_the_torch_import_waits_for_its_end():
    """The abort this guards against: SIGINT while torch's import ran pybind11 code. Here the
    signal is sent just before the import, so it is pending while the import runs."""
    code = """
import os, signal
from pose_ros.stopping import STOP
STOP.install()
with STOP.deferred():
    os.kill(os.getpid(), signal.SIGINT)
    import torch
    torch.zeros(1)
    print("imported", flush=True)
STOP.raise_if_requested()
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.stdout == "imported\n", proc.stderr[-2000:]
    assert "Interrupted: SIGINT" in proc.stderr and "pybind11" not in proc.stderr
