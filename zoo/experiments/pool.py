"""`--jobs N`: a sweep's independent runs trained side by side, in N worker processes.

A sweep of small runs leaves most of a machine idle: a 10^4-parameter model cannot keep many
cores busy. With `jobs > 1` the runs still to train are sent to a pool of `jobs` processes
(`concurrent.futures.ProcessPoolExecutor`, started with `spawn`, so no worker inherits the
parent's TensorFlow or JAX state), and each worker gets its own share of the CPUs:

* **Pinned before the backend starts.** The worker's initializer takes one group of
  `split_cpus(os.sched_getaffinity(0), workers)` (disjoint, together every CPU the sweep may
  use), pins every thread of the process to it (`os.sched_setaffinity`; threads started later
  inherit it) and sets `KERAS_BACKEND` to the parent's backend and the thread variables
  (`TF_NUM_INTRAOP_THREADS`, `TF_NUM_INTEROP_THREADS`, `OMP_NUM_THREADS`), all before anything
  imports TensorFlow, JAX or Keras there (this module imports none of them at its top;
  `XLA_FLAGS` is left as it is). The thread pools keep the size one job has here
  (`thread_environment`), not the group's: TensorFlow splits a kernel's work by pool size, so
  smaller pools change the order of the sums and so the losses, while pools of one size give
  the results of `--jobs 1` bit for bit. The affinity mask confines them to the worker's CPUs.
* **Small, picklable tasks.** A task is plain data: the arm's preset, each run's `RunConfig` as
  its dict, its overrides and its resolution key. The worker re-plans each run (`plan_run`) and
  refuses one whose key differs from the parent's, then obtains it as a sequential sweep does
  (`RunStore.obtain`: reused, resumed or trained). Runs that share a `--tune-lr` grid are one task:
  the grid is tuned once and the seeds trained after it, so no two workers ever train one run.
* **Reporting.** Workers print nothing. Each event a worker's runs raise that a sequential
  sweep reports (a run starting, with its status; a run's messages and end; a tuning grid's
  runs; a run failing) is sent to the parent, which reports it as it happens, so events arrive
  in completion order, not plan order. A `RunFailed` in a worker is a failed cell, as in a
  sequential sweep; any other error ends the sweep with that error, the other workers are
  stopped, and every run already finished stays on disk to be reused by key next time.

* **Workers die with the parent.** Each worker asks Linux to SIGKILL it when the parent dies
  (`prctl(PR_SET_PDEATHSIG)`, `_die_with_parent`), so a parent killed by any signal, SIGKILL
  included, leaves no worker training on, holding its run's lock (a rerun would be refused
  "in use") and its memory; the multiprocessing resource tracker, which lives as long as a
  process holds its pipe, then ends with them. A run in progress loses only what it had not
  committed, as under Ctrl-C. (A process group the parent owns would need the parent alive to
  signal it, and SIGKILL leaves it no chance; the death signal is the kernel's.)

`jobs=1` trains in this process exactly as before, and so does a sweep with at most one run (or
tuning grid) left to train. The library's default is 1; the command line's is `default_jobs()`.
With `jobs > 1`, a script that calls a sweep must keep its top level under
`if __name__ == "__main__":`, since `spawn` re-imports the main module in each worker.

Measured on the 2-core development machine, idle, `/usr/bin/time -f %e zoo sweep compute
--models gpt2 --budgets 1e11,3e11 --seeds 2` (four runs of 27K–40K parameters, a fresh results
root each, so nothing was reused): 84.7 s with `--jobs 1`, 66.2 s with `--jobs 2` (1.28×; the
sweeps' own wall times 76.8 s and 58.1 s), with the same four losses bit for bit. With
another process training beside it: 121.1 s and 93.7 s. Hence `DEFAULT_JOBS = 2`. The plan's
estimate stays that of the runs one at a time: the speed-up depends on the machine and the
runs' sizes, and one measurement does not give it for another.
"""

import concurrent.futures
import ctypes
import multiprocessing
import os
import pickle
import signal
import sys
import traceback

from zoo.errors import FieldError, Setting, ZooError
from zoo.quiet_import import import_quietly
from zoo.run_config import Strategy

# The command line's jobs unless told (never more than the CPUs): 2 measured 1.28× faster than
# 1 on the 2-core development machine (see the module docstring).
DEFAULT_JOBS = 2
POLL_SECONDS = 0.2  # how often the parent relays its workers' events while it waits
# The strategies a worker may train under: those that keep one run in one process.
SINGLE_PROCESS_STRATEGIES = (Strategy.AUTO, Strategy.NONE)
THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

_events = None  # in a worker: the queue its events go to the parent by


def available_cpus():
    """The CPUs this process may run on (its affinity mask), sorted."""
    return sorted(os.sched_getaffinity(0))


def check_jobs(jobs):
    """`jobs` as an int, or `ZooError` unless it is between 1 and the CPUs available."""
    cpus = len(available_cpus())
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise FieldError("jobs", f"must be at least 1; received {jobs!r}")
    if jobs > cpus:
        raise FieldError("jobs", f"must be at most the {cpus} CPUs available here; received {jobs}")
    return jobs


def check_strategy(jobs, strategy):
    """Several jobs share this host's CPUs one run per process: a strategy that spreads one run
    over devices or hosts is refused with them."""
    if jobs > 1 and strategy not in SINGLE_PROCESS_STRATEGIES:
        raise FieldError(
            "jobs",
            f"{jobs} trains each run in its own process on a share of this host's CPUs; it "
            "cannot be combined with ",
            Setting("strategy", strategy),
            " (use ",
            Setting("jobs", 1),
            ")",
        )


def default_jobs(strategy=None):
    """The command line's default: `DEFAULT_JOBS`, or fewer where fewer CPUs are available;
    1 with a strategy that spreads a run over devices, and on a GPU or TPU host (where every
    worker would claim the accelerator's memory: there, one run at a time fills it better)."""
    from zoo.backend_choice import detect_accelerator

    if strategy not in (None, *SINGLE_PROCESS_STRATEGIES) or detect_accelerator() != "cpu":
        return 1
    return max(1, min(DEFAULT_JOBS, len(available_cpus())))


def split_cpus(cpus, groups):
    """`cpus` split into `groups` disjoint, contiguous groups (tuples, in order) whose sizes
    differ by at most one and which together hold every CPU: one group per worker."""
    cpus = sorted(cpus)
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"groups must be a positive int; received {groups!r}")
    if groups > len(cpus):
        raise ValueError(f"cannot split {len(cpus)} CPUs into {groups} groups")
    size, extra = divmod(len(cpus), groups)
    out, start = [], 0
    for i in range(groups):
        end = start + size + (1 if i < extra else 0)
        out.append(tuple(cpus[start:end]))
        start = end
    return out


def thread_environment(backend, environ=None, cpus=None):
    """The environment every worker sets before its backend is imported: `backend` (the
    parent's) as KERAS_BACKEND, and the thread-pool sizes one job has here, i.e. the parent's
    `environ` value of each `THREAD_VARIABLES` or else its `cpus` count (TensorFlow's default).

    Not the size of the worker's CPU group: TensorFlow and XLA split each kernel's work by the
    size of their pools, so a run with fewer threads adds its sums in another order and ends on
    another loss (measured: up to 3e-3 relative on the four-run gpt2 sweep, while a --jobs 1
    sweep under `taskset -c 0` reproduced those --jobs 2 losses bit for bit). With the pools
    kept, a run's result depends on its key and the machine only, whoever trained it; the
    affinity mask keeps the threads on the worker's CPUs.
    """
    environ = os.environ if environ is None else environ
    count = str(len(available_cpus()) if cpus is None else cpus)
    return {
        **{name: environ.get(name) or count for name in THREAD_VARIABLES},
        "KERAS_BACKEND": backend,
    }


def run_tasks(function, tasks, workers, on_event, on_result):
    """`function(task)` for each task on `workers` pinned worker processes (at most one per
    task). `on_event(event)` gets each event the workers send (`emit`), in the order they
    happen; `on_result(task, result)` each task's result as it completes. A task's events all
    reach `on_event` before its result reaches `on_result`. An exception in a task, or in a
    callback, stops the other workers and is raised here."""
    import keras  # already imported by the sweep's planning: the backend the workers must use

    tasks = list(tasks)
    workers = min(workers, len(tasks))
    if not tasks:
        return
    context = multiprocessing.get_context("spawn")
    # SimpleQueue: a worker's put is written to the pipe before it returns, so the events of a
    # finished task are all readable by the time the parent sees its result.
    handout, events = context.SimpleQueue(), context.SimpleQueue()
    for group in split_cpus(available_cpus(), workers):
        handout.put(group)
    pids = []

    def relay():
        while not events.empty():
            event = events.get()
            if event[0] == "worker":
                pids.append(event[1])
            else:
                on_event(event)

    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(handout, events, thread_environment(keras.backend.backend()), os.getpid()),
    )
    try:
        futures = {pool.submit(function, task): task for task in tasks}
        pending = set(futures)
        while pending:
            done, pending = concurrent.futures.wait(
                pending, timeout=POLL_SECONDS, return_when=concurrent.futures.FIRST_COMPLETED
            )
            relay()
            for future in done:
                on_result(futures[future], future.result())
    except BaseException:
        relay()  # the pids of workers started since the last poll
        _stop(pool, pids)
        raise
    pool.shutdown(wait=True)


def _stop(pool, pids):
    """Stop every worker now (a run in progress loses only what it had not committed), then
    the pool. All of them: a worker killed while it waits for a task holds the task queue's
    lock, and would leave any other waiting forever."""
    # The pool's own record of its processes, where it has one (CPython's, since 3.2), covers
    # workers that have not reported yet.
    for pid in set(pids) | set(getattr(pool, "_processes", None) or ()):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    pool.shutdown(wait=True, cancel_futures=True)


def emit(*event):
    """Send `event` (a tuple of picklable values) to the parent; nothing outside a worker."""
    if _events is not None:
        _events.put(event)


def _start_worker(handout, events, environment, parent):
    """The worker's initializer: bound to its parent's life, then its CPUs and threads, before
    any backend is imported."""
    global _events
    _die_with_parent(parent)
    cpus = handout.get()
    # Ctrl-C reaches the whole process group: the parent decides, and stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # ... with SIGTERM (`_stop`), which must end the worker even where the parent was started
    # with SIGTERM ignored: an ignored signal is inherited across exec, and the parent would
    # then wait for the pool forever.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    pin_process(cpus)
    os.environ.update(environment)
    _events = events
    emit("worker", os.getpid(), cpus)


def _die_with_parent(parent):
    """Have the kernel SIGKILL this process when `parent` (the process that spawned it) dies.

    The parent's death signal (Linux `prctl(PR_SET_PDEATHSIG)`) is the one mechanism that
    survives the parent's SIGKILL, which runs no handler and leaves nothing to stop a process
    group. SIGKILL, not SIGTERM: nothing a worker imports can catch or ignore it, and the run's
    commits are atomic. The signal is sent when the *thread* that spawned the worker ends;
    `run_tasks` spawns them from its caller's thread (`submit`), which waits for the pool.

    If the parent died before the call, no signal will ever come (the worker was already handed
    to init, or a subreaper), so the parent's pid is checked after it: the standard race fix.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(code)}")
    if os.getppid() != parent:
        os._exit(1)  # orphaned already: nobody is waiting for this worker's results


def _import_keras_quietly():
    """Keras (and its backend) imported now, pinned, as the command line imports it
    (`zoo.quiet_import`): N workers would otherwise print N copies of TensorFlow's start-up
    chatter in the middle of the sweep's progress."""
    if "keras" not in sys.modules:  # else imported already (by the parent's main module)
        import_quietly("keras")


def pin_process(cpus):
    """Pin every thread of this process to `cpus` (threads started later inherit it)."""
    for tid in os.listdir("/proc/self/task") if os.path.isdir("/proc/self/task") else ("0",):
        try:
            os.sched_setaffinity(int(tid), cpus)
        except (ProcessLookupError, PermissionError):  # a thread that has ended meanwhile
            pass
    os.sched_setaffinity(0, cpus)


def train_task(task):
    """A worker's task: the runs of one sweep cell group, as a sequential sweep trains them.

    `task`: {'preset', 'count', 'tune' (None, or {'label', 'changes', 'run'}: the tuning grid's
    entry and RunConfig dict), 'cells': [{'index', 'label', 'seed', 'run', 'changes', 'key'}]}.
    Returns one outcome per cell, in order: {'index', 'status' ('done' or 'failed'), 'key',
    'path' (done), 'reason' (failed), 'learning_rate' (the tuned rate, or None)}.
    """
    try:
        _import_keras_quietly()
        return _train_task(task)
    except Exception as error:  # sent back pickled: keep what the parent must see
        raise _sendable(error) from None


def _train_task(task):
    from zoo.experiments.tuning import TuningCell, tune_learning_rate
    from zoo.experiments.store import RunStore
    from zoo.run_config import RunConfig
    from zoo.training.loop import RunFailed
    from zoo.training.trainer import plan_run

    outcomes, rate = [], None
    store = RunStore()  # one scan per task
    for cell in task["cells"]:
        index = cell["index"]
        plan = plan_run(task["preset"], RunConfig.from_dict(cell["run"]), overrides=cell["changes"])
        if plan.key != cell["key"]:
            raise ZooError(
                f"{cell['label']} seed {cell['seed']} re-planned in a worker process "
                f"has key {plan.key}, not the grid's {cell['key']}; refusing to "
                "train it (run it with ",
                Setting("jobs", 1),
                ")",
            )
        if task["tune"] is not None:
            if rate is None:
                tune = task["tune"]
                tuning_cell = TuningCell(tune["label"], task["preset"], dict(tune["changes"]))
                rate = tune_learning_rate(
                    tuning_cell, RunConfig.from_dict(tune["run"]), _TuningRelay(index), store
                )
            plan = plan_run(
                task["preset"], plan.run, overrides={**cell["changes"], "learning_rate": rate}
            )
        outcome = {"index": index, "key": plan.key, "learning_rate": rate}
        try:
            record = store.obtain(
                plan, _Relay(cell), index, task["count"], cell["label"], cell["seed"]
            )
        except RunFailed as failure:
            failed = store.find(plan.key)  # its record, so the parent need not rescan
            outcomes.append(
                {
                    **outcome,
                    "status": "failed",
                    "reason": str(failure),
                    "path": str(failed.path) if failed else None,
                }
            )
            emit("failed", index, str(failure))
            continue
        outcomes.append({**outcome, "status": "done", "path": str(record.path)})
        emit("done", index, None)
    return outcomes


class _Relay:
    """A worker's reporter for one run: silent per step; the rest goes to the parent.

    Not a subclass of `zoo.training.loop.Reporter`, whose no-ops it repeats: importing
    `zoo.training` (or `zoo.comparison`) here would import Keras as this module loads in a
    worker, before the worker is pinned to its CPUs and before its start-up chatter is filtered
    (measured: every worker then printed TensorFlow's banner)."""

    def __init__(self, cell):
        self.index = cell["index"]
        self.prefix = f"{cell['label']} seed {cell['seed']}: "

    def run(self, index, count, label, seed, status):
        emit("run", self.index, status)

    def start(self, plan, facts):
        pass

    def step(self, progress):
        pass

    def evaluation(self, row):
        pass

    def message(self, text):
        emit("message", self.index, self.prefix + text)

    def end(self, summary):
        emit("end", self.index, summary)


class _TuningRelay(_Relay):
    """A tuning grid's runs, reported as messages, as a sequential sweep reports them."""

    def __init__(self, index):
        self.index = index

    def run(self, index, count, label, seed, status):
        emit("message", self.index, f"tuning {label}: {status}")

    def message(self, text):
        pass

    def end(self, summary):
        pass


def _sendable(error):
    """`error` if it survives pickling (its type and message reach the parent), else a
    `ZooError` or RuntimeError with its message and the worker's traceback."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:
        pass
    if isinstance(error, ZooError):
        return ZooError(str(error))
    return RuntimeError(
        f"{type(error).__name__}: {error}\n\nin the worker:\n"
        + "".join(traceback.format_exception(error))
    )


__all__ = [
    "DEFAULT_JOBS",
    "available_cpus",
    "check_jobs",
    "check_strategy",
    "default_jobs",
    "run_tasks",
    "split_cpus",
    "thread_environment",
    "train_task",
]
