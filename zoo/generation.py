"""Text generation: incremental decoding with a key/value cache, XLA-compiled, keras-hub samplers.

Without streaming, the whole generation is one XLA program: keras-hub's sampler loop around the
model's `call_with_cache`, as keras-hub's `CausalLM.generate` runs it. With streaming (a callback
for each token), the prefill and each step are compiled programs driven from Python, each ending
in the same sampler's `compute_probabilities` and `get_next_token`. Either way greedy, top-k,
top-p and temperature sampling are keras-hub's, not ours. `use_cache=False` recomputes the whole
sequence at every step instead (a fixed-length buffer, so it compiles once; causality makes the
positions not yet generated invisible): the reference the cached path must match token for token.
"""

import dataclasses
import math
import time

import keras
import numpy as np
from keras import ops

from zoo.errors import FieldError, Placeholder, Setting, ZooError

SAMPLERS = ("greedy", "top-k", "top-p", "temperature")


def make_sampler(name="greedy", *, temperature=1.0, k=50, p=0.9, seed=None):
    """A keras-hub sampler by its command-line name.

    greedy: the most likely token; top-k: sample among the k most likely; top-p: among the
    smallest set whose probability reaches p; temperature: from the whole distribution.
    `temperature` divides the logits for every sampler.
    """
    import keras_hub

    if not (
        isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0
    ):  # inf would make every sampler uniform, nan poisons them
        raise FieldError(
            "temperature", f"must be a positive finite number; received {temperature!r}"
        )
    if name == "greedy":
        return keras_hub.samplers.GreedySampler(temperature=temperature)
    if name == "top-k":
        if not isinstance(k, int) or k < 1:
            raise FieldError("top_k", f"must be a positive integer; received {k!r}")
        return keras_hub.samplers.TopKSampler(k=k, seed=seed, temperature=temperature)
    if name == "top-p":
        if not 0 < p <= 1:
            raise FieldError("top_p", f"must be in (0, 1]; received {p}")
        return keras_hub.samplers.TopPSampler(p=p, seed=seed, temperature=temperature)
    if name == "temperature":
        return keras_hub.samplers.RandomSampler(seed=seed, temperature=temperature)
    raise FieldError("sampler", f"must be one of {', '.join(SAMPLERS)}; received {name!r}")


@dataclasses.dataclass(frozen=True)
class Generation:
    """What one call of `generate_tokens` / `generate` produced and how fast."""

    token_ids: np.ndarray  # (b, prompt + new), prompt included
    prompt_tokens: int
    new_tokens: int  # per sequence, up to and including a stop token
    compile_seconds: float  # tracing and XLA compilation, paid once per shape
    seconds: float  # prefill and decoding, compilation excluded
    cache_bytes: int  # the key/value cache as allocated (0 without a cache)
    cache_bytes_per_token: float  # per sequence and cached position: 2·L·K·Q values
    xla: bool  # whether the step programs ran XLA-compiled
    text: str = None  # the new text, when a tokenizer decoded it

    @property
    def tokens_per_second(self):
        """New tokens per second per sequence, prefill included (as keras-hub's `generate`)."""
        return self.new_tokens / self.seconds if self.seconds > 0 else float("nan")


class Decoder:
    """Compiled decoding for one model, sampler, batch and length, in one of two modes.

    streaming=False: the whole generation is one XLA program, keras-hub's sampler loop
    (`Sampler.__call__`, an `ops.while_loop`) around our `call_with_cache`, as keras-hub's own
    `CausalLM.generate` runs; `generate()` returns every token at once. streaming=True: the
    prefill and each decoding step are programs of their own, driven from Python by `tokens()`,
    so text can be shown as it comes (on a 2-core CPU about half the speed: each step pays a
    dispatch and a host round trip).

    Example:
        >>> decoder = Decoder(model, make_sampler("greedy"), batch_size=1, prompt_length=8,
        ...                   max_length=40)
        >>> decoder.generate(prompt_ids)                       # (1, 40) int32
        >>> for token in Decoder(..., streaming=True).tokens(prompt_ids): ...  # (b,) per step
    """

    def __init__(
        self,
        model,
        sampler,
        batch_size,
        prompt_length,
        max_length,
        use_cache=True,
        streaming=False,
        stop_token_id=None,
    ):
        limit = model.config.max_sequence_length
        if prompt_length < 1:
            raise ZooError("the prompt must hold at least one token")
        if prompt_length >= limit:  # no room left for even one new token
            than = "more than" if prompt_length > limit else "all of"
            raise ZooError(
                f"the prompt alone has {prompt_length} tokens, {than} the model's "
                f"context of {limit} tokens; shorten it to at most {limit - 1}"
            )
        if max_length > limit:
            raise ZooError(
                f"prompt ({prompt_length} tokens) plus new tokens exceed the model's "
                f"context of {limit} tokens; ask for at most {limit - prompt_length}"
            )
        check_top_k(sampler, model.config.vocabulary_size)
        self.model = model
        self.sampler = sampler
        self.shape = (batch_size, prompt_length, max_length)
        self.use_cache = use_cache
        self.streaming = streaming
        self.stop_token_id = stop_token_id
        self.xla = keras.backend.backend() in ("tensorflow", "jax")
        if streaming and use_cache:
            self._prefill = _compile(self._prefill_cached, model, sampler)
            self._step = _compile(self._step_cached, model, sampler)
        elif streaming:
            self._step = _compile(self._step_uncached, model, sampler)
        else:
            self._loop = _compile(self._sampler_loop, model, sampler)
        self.compile_seconds = self._warm_up()

    @property
    def cache_bytes(self):
        if not self.use_cache:
            return 0
        b, _, length = self.shape
        c = self.model.config
        itemsize = np.dtype(self.model.compute_dtype).itemsize
        return b * c.num_layers * 2 * length * c.num_key_value_heads * c.head_dim * itemsize

    @property
    def cache_bytes_per_token(self):
        """Per sequence and cached position: 2·L·K·Q values."""
        b, _, length = self.shape
        return self.cache_bytes / (b * length)

    # --- the compiled programs ---

    def _pick(self, logits):  # (b, V) -> (b,)
        probabilities = self.sampler.compute_probabilities(logits)
        return ops.cast(self.sampler.get_next_token(probabilities), "int32")

    def _prefill_cached(self, prompt_ids, cache):
        logits, _, cache = self.model.call_with_cache(prompt_ids, cache, 0)
        return self._pick(logits[:, -1]), cache

    def _step_cached(self, token, cache, index):
        logits, _, cache = self.model.call_with_cache(token[:, None], cache, index)
        return self._pick(logits[:, -1]), cache

    def _step_uncached(self, buffer, index):
        logits = self.model(buffer)  # (b, S, V): everything recomputed
        return self._pick(ops.take(logits, index, axis=1))

    def _sampler_loop(self, buffer):
        """buffer (b, S): the prompt, then zeros -> the prompt and its continuation."""
        b, prompt_length, length = self.shape
        cache = None
        if self.use_cache:
            # Prefill; the loop's first step recomputes position P - 1 to get its logits.
            cache = self.model.empty_cache(b, length)
            _, _, cache = self.model.call_with_cache(buffer[:, :prompt_length], cache, 0)

        def next(prompt, cache, index):  # logits for position `index`, from token index - 1
            if not self.use_cache:
                logits = self.model(prompt)  # the whole sequence again: the reference
                return ops.take(logits, index - 1, axis=1), None, cache
            token = ops.slice(prompt, [0, index - 1], [b, 1])
            logits, hidden, cache = self.model.call_with_cache(token, cache, index - 1)
            return logits[:, 0], hidden[:, 0], cache

        given = ops.arange(length)[None, :] < prompt_length  # the prompt is never overwritten
        stop = None if self.stop_token_id is None else (self.stop_token_id,)
        return self.sampler(
            next=next,
            prompt=buffer,
            cache=cache,
            index=prompt_length,
            mask=ops.broadcast_to(given, (b, length)),
            stop_token_ids=stop,
            model=self.model,
        )

    # --- driving them ---

    def _warm_up(self):
        """Run the programs once on zeros, so compilation is not counted as decoding time; the
        sampler's random state is put back, so a seed means the same tokens as without it."""
        saved = [ops.convert_to_numpy(v) for v in self.sampler.variables]
        b, prompt_length, _ = self.shape
        start = time.perf_counter()
        zeros = np.zeros((b, prompt_length), "int32")
        if self.streaming:
            for token in self.tokens(zeros, steps=2):
                np.asarray(token)
        else:
            self.generate(zeros)
        for variable, value in zip(self.sampler.variables, saved):
            variable.assign(value)
        return time.perf_counter() - start

    def _check_prompt(self, prompt_ids):
        b, prompt_length, _ = self.shape
        prompt_ids = np.asarray(prompt_ids, "int32")
        if prompt_ids.shape != (b, prompt_length):
            raise ValueError(
                f"prompt_ids must have shape {(b, prompt_length)}; received {prompt_ids.shape}"
            )
        return prompt_ids

    def generate(self, prompt_ids):
        """(b, S) int32: the prompt and its continuation, from one compiled program. After a
        stop token, a sequence holds whatever was sampled until every sequence had stopped."""
        b, prompt_length, length = self.shape
        # The sampler stops once every row holds a stop token past the prompt, so the positions
        # not yet generated must not hold one (they are overwritten before any query sees them).
        filler = 1 if self.stop_token_id == 0 else 0
        buffer = np.full((b, length), filler, "int32")
        buffer[:, :prompt_length] = self._check_prompt(prompt_ids)
        return ops.convert_to_numpy(self._loop(ops.convert_to_tensor(buffer)))

    def tokens(self, prompt_ids, steps=None):
        """Yield the next token of every sequence, (b,) int32, `steps` times (default: until
        max_length); streaming mode only. The caller may stop early (a stop token)."""
        b, prompt_length, length = self.shape
        prompt_ids = self._check_prompt(prompt_ids)
        steps = length - prompt_length if steps is None else steps
        if self.use_cache:
            cache = self.model.empty_cache(b, length)
            token, cache = self._prefill(ops.convert_to_tensor(prompt_ids), cache)
        else:
            buffer = np.zeros((b, length), "int32")
            buffer[:, :prompt_length] = prompt_ids
            token = self._step(ops.convert_to_tensor(buffer), _index(prompt_length - 1))
        for n in range(steps):
            token = ops.convert_to_numpy(token)
            yield token
            position = prompt_length + n  # where `token` goes
            if n + 1 == steps:
                return
            if self.use_cache:
                token, cache = self._step(ops.convert_to_tensor(token), cache, _index(position))
            else:
                buffer[:, position] = token
                token = self._step(ops.convert_to_tensor(buffer), _index(position))


def check_top_k(sampler, vocabulary_size):
    """A top-k sampler cannot pick among more tokens than the model has (TensorFlow's top_k
    would fail inside the compiled program, with a traceback)."""
    import keras_hub

    if isinstance(sampler, keras_hub.samplers.TopKSampler) and sampler.k > vocabulary_size:
        raise FieldError(
            "top_k",
            f"must be at most the vocabulary size ({vocabulary_size}); received {sampler.k}",
        )


def failed_run_warning(source):
    """What to tell a user who generates with a run that failed (diverged), or None.

    A failed run wrote no model.keras, only its last finite commit (checkpoint.keras), so its
    text will be poor: the warning names the failure's step and reason, and the step the
    commit holds. A careful user still wants to see what that commit does (that is how one
    looks at a diverging run), so it is a warning, not a refusal; a failed run with no commit
    has no model at all, which is refused (`ZooError`). A finished run, an interrupted one and
    a .keras file get None.
    """
    from zoo.storage.runs import find_run

    try:
        run = find_run(source)
    except ZooError:
        return None  # not a run: a .keras file, or nothing (load_for_generation says which)
    if run.model_path.exists():
        return None
    failure = run.failure()  # a damaged failure.json is a ZooError naming it
    if failure is None:
        return None
    if not isinstance(failure, dict):
        raise ZooError(f"{run.failure_path} is damaged: it holds no JSON object")
    step = failure.get("step", "?")
    # The reason's first clause says what happened; the rest is advice for `zoo train`.
    reason = str(failure.get("reason") or "no reason recorded").split(";")[0]
    if not run.checkpoint_path.exists():
        raise FieldError(
            "source",
            f"{str(source)!r}: the run failed at step {step} ({reason}) "
            "before its first commit, so it has no model to generate with",
        )
    committed = (run.state() or {}).get("step", "?")
    return (
        f"{run.path} failed at step {step} ({reason}); generating from its last commit "
        f"(step {committed}), not a finished model"
    )


def load_for_generation(source, tokenizer=None):
    """(model, tokenizer assets) for `zoo generate`: a run or .keras file, and the tokenizer
    directory beside it unless `tokenizer` names one."""
    from zoo.data.tokenizer import load_tokenizer
    from zoo.storage.models import load_decoder, model_source, saved_model_config

    path, beside = model_source(source, field="source")
    saved_model_config(path)  # not a zoo model: say so before anything about tokenizers
    directory = tokenizer or beside
    if directory is None:
        raise ZooError(
            f"{path} has no tokenizer/ beside it; pass ", Setting("tokenizer", Placeholder("DIR"))
        )
    assets = load_tokenizer(directory)
    model = load_decoder(path)
    if assets.vocabulary_size > model.config.vocabulary_size:
        raise ZooError(
            f"the tokenizer in {directory} has {assets.vocabulary_size} tokens, more "
            f"than the model's {model.config.vocabulary_size}"
        )
    return model, assets


def generate_tokens(
    model,
    prompt_ids,
    max_new_tokens,
    sampler="greedy",
    *,
    use_cache=True,
    stop_token_id=None,
    seed=None,
    on_token=None,
    **sampler_options,
):
    """Continue each row of `prompt_ids` (b, t) by up to `max_new_tokens` tokens.

    `sampler` is a keras-hub sampler or one of `SAMPLERS`; generation stops early once every row
    has produced `stop_token_id`. `on_token((b,) tokens)` is called as each step lands.
    Returns a `Generation`.
    """
    if isinstance(sampler, str):
        sampler = make_sampler(sampler, seed=seed, **sampler_options)
    prompt_ids = np.asarray(prompt_ids, "int32")
    if prompt_ids.ndim != 2:
        raise ValueError(f"prompt_ids must be (batch, length); received shape {prompt_ids.shape}")
    if max_new_tokens < 1:
        raise FieldError("max_new_tokens", f"must be at least 1; received {max_new_tokens}")
    b, prompt_length = prompt_ids.shape
    streaming = on_token is not None
    decoder = Decoder(
        model,
        sampler,
        b,
        prompt_length,
        prompt_length + max_new_tokens,
        use_cache,
        streaming=streaming,
        stop_token_id=stop_token_id,
    )
    start = time.perf_counter()
    if streaming:
        produced, stopped = [], np.zeros(b, bool)
        for token in decoder.tokens(prompt_ids):
            produced.append(token)
            on_token(token)
            if stop_token_id is not None:
                stopped |= token == stop_token_id
                if stopped.all():
                    break
        token_ids = np.concatenate([prompt_ids, np.stack(produced, axis=1)], axis=1)
    else:
        token_ids = decoder.generate(prompt_ids)
        token_ids = token_ids[
            :, : prompt_length + _steps_taken(token_ids[:, prompt_length:], stop_token_id)
        ]
    seconds = time.perf_counter() - start
    return Generation(
        token_ids=token_ids,
        prompt_tokens=prompt_length,
        new_tokens=token_ids.shape[1] - prompt_length,
        compile_seconds=decoder.compile_seconds,
        seconds=seconds,
        cache_bytes=decoder.cache_bytes,
        cache_bytes_per_token=decoder.cache_bytes_per_token,
        xla=decoder.xla,
    )


def _steps_taken(new, stop_token_id):
    """Decoding steps until every row had produced `stop_token_id` (all of them without one)."""
    if stop_token_id is None:
        return new.shape[1]
    hits = new == stop_token_id
    if not hits.any(axis=1).all():
        return new.shape[1]
    return int(hits.argmax(axis=1).max()) + 1


def generate(
    model,
    tokenizer,
    prompt,
    max_new_tokens=100,
    sampler="greedy",
    *,
    seed=None,
    stop_token_id=None,
    on_text=None,
    use_cache=True,
    **sampler_options,
):
    """Continue the text `prompt` with `model`; `tokenizer` is a keras-hub tokenizer.

    `on_text(piece)` receives the new text as it is produced (whole characters: a multi-byte
    character split across tokens is held back until complete). Returns a `Generation` whose
    `text` is the continuation alone.

    >>> result = zoo.generate(model, tokenizer, "ROMEO:", max_new_tokens=50, on_text=print)
    >>> result.tokens_per_second
    """
    ids = np.asarray(ops.convert_to_numpy(tokenizer.tokenize(prompt)), "int32").reshape(1, -1)
    if ids.shape[1] == 0:
        raise ZooError("the prompt is empty after tokenization; give some text")
    stream = _TextStream(tokenizer, on_text)
    result = generate_tokens(
        model,
        ids,
        max_new_tokens,
        sampler,
        use_cache=use_cache,
        stop_token_id=stop_token_id,
        seed=seed,
        on_token=stream.add if on_text else None,
        **sampler_options,
    )
    new = result.token_ids[0, result.prompt_tokens :]
    if stop_token_id is not None and len(new) and new[-1] == stop_token_id:
        new = new[:-1]  # the stop token ends the text; it is not part of it
    return dataclasses.replace(result, text=_detokenize(tokenizer, new))


class _TextStream:
    """Decodes the growing continuation and hands on only what is new and complete."""

    def __init__(self, tokenizer, on_text):
        self.tokenizer, self.on_text = tokenizer, on_text
        self.tokens, self.sent = [], ""

    def add(self, token):
        if self.on_text is None:
            return
        self.tokens.append(int(token[0]))
        text = _detokenize(self.tokenizer, self.tokens)
        if text.endswith("\ufffd"):  # a character still missing its last bytes
            return
        if text.startswith(self.sent):
            piece, self.sent = text[len(self.sent) :], text
            if piece:
                self.on_text(piece)


def _detokenize(tokenizer, ids):
    if len(ids) == 0:
        return ""
    text = tokenizer.detokenize(np.asarray(ids, "int32"))
    text = ops.convert_to_numpy(text) if not isinstance(text, str) else text
    if isinstance(text, np.ndarray):
        text = text.item()
    return text.decode("utf-8", errors="replace") if isinstance(text, bytes) else str(text)


def _index(value):
    """A position as an int32 tensor, so the compiled step is traced once, not once per value."""
    return ops.convert_to_tensor(np.int32(value))


def _compile(function, model, sampler):
    """`function` as one XLA program: tf.function(jit_compile=True) on TensorFlow; on JAX,
    jax.jit over the model's and sampler's variables passed in as state (Keras's stateless
    pattern, as keras-hub's `CausalLM.make_generate_function`); eager elsewhere."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(function, jit_compile=True, reduce_retracing=True)
    if backend != "jax":
        return function
    import jax

    model_variables = model.trainable_variables + model.non_trainable_variables
    sampler_variables = list(sampler.variables)

    @jax.jit
    def stateless(model_values, sampler_values, *args):
        mapping = list(zip(model_variables, model_values))
        mapping += list(zip(sampler_variables, sampler_values))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            outputs = function(*args)
        updated = [scope.get_current_value(v) for v in sampler_variables]
        return outputs, [u if u is not None else v for u, v in zip(updated, sampler_values)]

    def call(*args):
        outputs, sampler_values = stateless(
            [v.value for v in model_variables], [v.value for v in sampler_variables], *args
        )
        for variable, value in zip(sampler_variables, sampler_values):
            variable.assign(value)
        return outputs

    return call
