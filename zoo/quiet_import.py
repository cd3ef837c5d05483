"""Importing Keras (or any module) with TensorFlow's start-up chatter dropped.

TensorFlow's native libraries log a few INFO lines through absl *before* its logging is
initialised, and those ignore TF_CPP_MIN_LOG_LEVEL (measured: the oneDNN and "Could not find
cuda drivers" lines still appear at level 3). The import therefore runs with file descriptor 2
captured, and everything except that known chatter is replayed, so real warnings and errors
still reach the terminal. Used by the command line (`zoo_cli.library`) and by a sweep's worker
processes (`zoo.experiments.pool`), which would otherwise print one copy each.
"""

import contextlib
import importlib
import os
import re
import sys
import tempfile

# absl's pre-initialisation banner, and INFO lines in absl's format
# ("I0000 00:00:1795890315.7  3789 cudart_stub.cc:31] ...").
STARTUP_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|I\d{4} \d\d:\d\d:[\d.]+ +\d+ [\w.]+:\d+\] .*)$"
)


def import_quietly(module):
    """`importlib.import_module(module)` with the start-up chatter on fd 2 filtered out."""
    with stderr_filtered(STARTUP_NOISE):
        return importlib.import_module(module)


@contextlib.contextmanager
def stderr_filtered(noise):
    """Run the block with file descriptor 2 captured, then replay every line of it that the
    regular expression `noise` does not match (native libraries write there, below Python)."""
    try:
        fd = sys.__stderr__.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (embedded interpreters)
        yield
        return
    with tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        saved = os.dup(fd)
        os.dup2(captured.fileno(), fd)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines(keepends=True)
            kept = [line for line in lines if not noise.match(line.rstrip("\n"))]
            if kept:
                os.write(fd, "".join(kept).encode())
