"""Package versions, git revision and machine, recorded in every run's config.json."""

import importlib.metadata
import os
import pathlib
import platform
import subprocess
import sys


def environment():
    """Package versions, git revision and machine, for config.json."""
    import keras
    import keras_hub
    import numpy
    import tensorflow

    versions = {
        "python": sys.version.split()[0],
        "zoo": importlib.metadata.version("zoo"),
        "keras": keras.__version__,
        "keras_hub": keras_hub.__version__,
        "tensorflow": tensorflow.__version__,
        "numpy": numpy.__version__,
        "backend": keras.backend.backend(),
    }
    return {
        "versions": versions,
        "git_revision": _git_revision(),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
        },
    }


def _git_revision():
    here = pathlib.Path(__file__).resolve().parent
    try:
        revision = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10
        )
        if revision.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return revision.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.TimeoutExpired):
        return None
