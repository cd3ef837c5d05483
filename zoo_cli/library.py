"""Loading the `zoo` library lazily and quietly.

`import zoo` imports Keras and TensorFlow (several seconds), so commands load it on first use and
`zoo --help` or shell completion stay instant. TensorFlow's native libraries log a few INFO lines
(e.g. "Could not find cuda drivers") through absl *before* its logging is initialised, and those
ignore TF_CPP_MIN_LOG_LEVEL; we capture file descriptor 2 while importing and replay everything
except that known start-up chatter, so real warnings and errors still reach the terminal.
"""

import importlib
import os
import re
import sys
import tempfile

# absl's pre-initialisation banner, and INFO lines in absl's format
# ("I0000 00:00:1795890315.7  3789 cudart_stub.cc:31] ...").
_STARTUP_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|I\d{4} \d\d:\d\d:[\d.]+ +\d+ [\w.]+:\d+\] .*)$"
)


def load_zoo():
    """The `zoo` module, imported with TensorFlow's start-up INFO lines filtered from stderr."""
    if "zoo" in sys.modules:
        return sys.modules["zoo"]
    try:
        fd = sys.__stderr__.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (embedded interpreters)
        return importlib.import_module("zoo")
    with tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        saved = os.dup(fd)
        os.dup2(captured.fileno(), fd)
        try:
            return importlib.import_module("zoo")
        finally:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            captured.seek(0)
            kept = [
                line
                for line in captured.read().decode(errors="replace").splitlines(keepends=True)
                if not _STARTUP_NOISE.match(line.rstrip("\n"))
            ]
            if kept:
                os.write(fd, "".join(kept).encode())
