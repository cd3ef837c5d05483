"""Source tensors: read without pickle, taken one by one by name, and checked for leftovers.

A checkpoint import is only trustworthy if every tensor in the file lands somewhere and every
weight of the zoo model comes from the file. `SourceTensors` enforces both: the mapping code
`take()`s each tensor it uses (with the shape the config implies), and `finish()` refuses any
tensor nobody took.
"""

import hashlib
import json
import pathlib

import numpy as np

from zoo.errors import ZooError

SAFETENSORS_INDEX = "model.safetensors.index.json"
SAFETENSORS_SINGLE = "model.safetensors"
# PyTorch's and Python's pickle formats: loading one can run arbitrary code, so we never open them.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")


class SourceTensors:
    """The named tensors of one checkpoint, consumed by the mapping to zoo weights.

    Args:
        tensors: name -> array (any float dtype; `take` returns float32).
        origin: how error messages name the checkpoint (its directory).
        prefix: prepended to every name passed to `take` (HF GPT-2's optional "transformer.").
    """

    def __init__(self, tensors, origin, prefix=""):
        self._tensors = dict(tensors)
        self.origin = origin
        self.prefix = prefix
        self.taken = 0

    def names(self):
        return set(self._tensors)

    def take(self, name, shape, *, prefixed=True):
        """The tensor `name` as float32, which must have `shape`; it counts as mapped."""
        full = self.prefix + name if prefixed else name
        if full not in self._tensors:
            raise ZooError(f"{self.origin}: tensor {full!r} is missing; the zoo model needs it")
        tensor = self._tensors.pop(full)
        if tuple(tensor.shape) != tuple(shape):
            raise ZooError(
                f"{self.origin}: tensor {full!r} has shape {tuple(tensor.shape)}; the "
                f"config implies {tuple(shape)}"
            )
        self.taken += 1
        return np.asarray(tensor, dtype=np.float32)

    def take_duplicate(self, name, shape, of, *, prefixed=True):
        """Take `name` if present, as a copy of `of` that must equal it (a tied output head
        saved alongside its embedding); a different tensor would be silently lost, so refuse."""
        full = self.prefix + name if prefixed else name
        if full not in self._tensors:
            return
        tensor = self.take(name, shape, prefixed=prefixed)
        if not np.array_equal(tensor, of):
            raise ZooError(
                f"{self.origin}: tensor {full!r} differs from the embedding, but the "
                "config ties them (tie_word_embeddings); refusing to drop it"
            )

    def drop_buffers(self, is_buffer):
        """Forget non-learned buffers (causal masks, rotary frequencies) the zoo recomputes."""
        for name in [n for n in self._tensors if is_buffer(n)]:
            del self._tensors[name]

    def finish(self):
        """Refuse any tensor that no zoo weight took."""
        if self._tensors:
            names = sorted(self._tensors)
            more = f" (and {len(names) - 1} more)" if len(names) > 1 else ""
            raise ZooError(
                f"{self.origin}: unexpected tensor {names[0]!r}{more}; the zoo model "
                "has no place for it"
            )


def safetensors_files(directory):
    """The safetensors files holding the model: one file, or the shards its index names."""
    index = directory / SAFETENSORS_INDEX
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text("utf-8"))["weight_map"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ZooError(f"{index}: not a safetensors index (no weight_map)") from None
        files = sorted(set(weight_map.values()))
        missing = [f for f in files if not (directory / f).is_file()]
        if missing:
            raise ZooError(f"{index}: shard {missing[0]!r} is missing")
        return [directory / f for f in files]
    if (directory / SAFETENSORS_SINGLE).is_file():
        return [directory / SAFETENSORS_SINGLE]
    return sorted(directory.glob("model-*-of-*.safetensors"))


def pickle_files(directory):
    return sorted(
        p.name for p in directory.iterdir() if p.is_file() and p.suffix.lower() in PICKLE_SUFFIXES
    )


def refuse_pickles(directory):
    """A checkpoint only in pickle formats is refused, unopened."""
    found = pickle_files(directory)
    if found:
        raise ZooError(
            f"{directory}: weights only in pickle files ({', '.join(found[:3])}) and no "
            "safetensors; pickle files are never loaded (they can run code) — "
            "convert the checkpoint to safetensors first"
        )


def read_safetensors(files):
    """name -> numpy array across all files, through safetensors' numpy reader (no pickle)."""
    try:
        import ml_dtypes  # noqa: F401  registers bfloat16 with numpy, so BF16 tensors read
    except ImportError:
        pass
    from safetensors import SafetensorError, safe_open

    tensors = {}
    for path in files:
        try:
            with safe_open(str(path), framework="np") as reader:
                for name in reader.keys():
                    if name in tensors:
                        raise ZooError(f"{path}: tensor {name!r} also appears in another shard")
                    tensors[name] = reader.get_tensor(name)
        except (SafetensorError, OSError, TypeError, ValueError) as error:
            if isinstance(error, ZooError):
                raise
            # A corrupt header, a truncated file, or a dtype numpy lacks (TypeError).
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise ZooError(f"{path}: not a readable safetensors file ({reason})") from None
    return tensors


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_digests(files, root):
    return {str(pathlib.Path(f).relative_to(root)): sha256(f) for f in files}
