"""Sweeps on many machines: a grid's cells in a shared database, taken one at a time by workers.

`zoo sweep ... --storage URL` on several hosts (or several processes of one) plans the same grid
on each, registers its cells in the store once, and then each worker takes the next untaken
cell, trains it as an ordinary run of its own results root (`RunStore.obtain`: reused or resumed
by key), and writes the cell's point (the run's summary as the sweep reads it) back with the
host and path of its run. A worker says it is alive every `HEARTBEAT_SECONDS` while it trains;
a cell whose worker fell silent for `grace_seconds()` goes back to the queue, and whoever takes
it resumes the run from its last commit where the run's directory is shared (one machine, or a
shared file system) and trains it again elsewhere. Every worker waits for the last cell and then
fits every worker's points from the store, so each prints the same table and fit.

The store is any SQLAlchemy database (it comes with Optuna, the study store of `zoo tune`):
SQLite for processes of one machine, PostgreSQL or MySQL for several. A cell is taken by a
compare-and-set UPDATE (state and heartbeat in the WHERE clause), which needs no lock that
SQLite lacks, and two workers cannot both take it: the second's UPDATE matches no row.
"""

import contextlib
import json
import math
import os
import socket
import threading
import time
import uuid

from zoo.errors import FieldError, ZooError
from zoo.experiments.grid import failure_row
from zoo.experiments.search import masked_url, open_storage, process_alive
from zoo.training.loop import RunFailed

HEARTBEAT_SECONDS = 10.0  # a training worker touches its cell this often (at most) ...
GRACE = 60.0  # ... and a cell silent this long is taken to be a dead worker's
POLL_SECONDS = 2.0  # a worker with nothing to take looks again this often
PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"


def grace_seconds():
    """`GRACE`, or `$ZOO_STORE_GRACE_SECONDS` (the tests shorten it; a cluster with slow
    shared disks may lengthen it)."""
    text = os.environ.get("ZOO_STORE_GRACE_SECONDS")
    if text is None:
        return GRACE
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ZooError(f"ZOO_STORE_GRACE_SECONDS must be a positive number; received {text!r}")
    return value


def _tables(sqlalchemy):
    meta = sqlalchemy.MetaData()
    sweeps = sqlalchemy.Table(
        "zoo_sweeps",
        meta,
        sqlalchemy.Column("name", sqlalchemy.String(200), primary_key=True),
        sqlalchemy.Column("definition", sqlalchemy.Text, nullable=False),
    )
    cells = sqlalchemy.Table(
        "zoo_cells",
        meta,
        sqlalchemy.Column("sweep", sqlalchemy.String(200), primary_key=True),
        sqlalchemy.Column("idx", sqlalchemy.Integer, primary_key=True),
        sqlalchemy.Column("key", sqlalchemy.String(100), nullable=False),
        sqlalchemy.Column("label", sqlalchemy.Text, nullable=False),
        sqlalchemy.Column("state", sqlalchemy.String(16), nullable=False),
        sqlalchemy.Column("worker", sqlalchemy.String(100)),
        sqlalchemy.Column("heartbeat", sqlalchemy.Float),
        sqlalchemy.Column("takes", sqlalchemy.Integer, nullable=False, default=0),
        sqlalchemy.Column("result", sqlalchemy.Text),  # the point (done) or failure row (failed)
        sqlalchemy.Column("host", sqlalchemy.String(200)),
        sqlalchemy.Column("run", sqlalchemy.Text),
    )
    return meta, sweeps, cells


class CellQueue:
    """The cells of one sweep (`name`) in the database at `url`."""

    def __init__(self, url, name, definition):
        import sqlalchemy

        grace_seconds()  # a malformed override: said now, not at the first cell taken
        open_storage(url)  # malformed or unreachable: one FieldError, before anything trains
        self.masked = masked_url(url)
        self.sa = sqlalchemy
        self.engine = sqlalchemy.create_engine(_url(url))
        self.meta, self.sweeps, self.cells = _tables(sqlalchemy)
        for attempt in range(3):  # workers starting together race to make the tables
            try:
                self.meta.create_all(self.engine)
                break
            except sqlalchemy.exc.SQLAlchemyError:
                if attempt == 2:
                    raise
                time.sleep(0.5)
        self.name, self.definition = name, json.dumps(definition, sort_keys=True)
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def register(self, planned):
        """The sweep and its cells, written by the first worker; a later one checks that it
        planned the same grid (the same name with other settings is refused)."""
        sa = self.sa
        with self.engine.begin() as db:
            found = db.execute(
                sa.select(self.sweeps.c.definition).where(self.sweeps.c.name == self.name)
            ).scalar()
            if found is None:
                with contextlib.suppress(sa.exc.IntegrityError):  # another worker was first
                    with db.begin_nested():
                        db.execute(sa.insert(self.sweeps).values(name=self.name,
                                                                 definition=self.definition))  # fmt: skip
                        db.execute(sa.insert(self.cells), [
                            {"sweep": self.name, "idx": i, "key": p.plan.key, "label": p.label,
                             "state": PENDING, "takes": 0}
                            for i, p in enumerate(planned)
                        ])  # fmt: skip
                found = db.execute(
                    sa.select(self.sweeps.c.definition).where(self.sweeps.c.name == self.name)
                ).scalar()
        if found != self.definition:
            raise FieldError("storage", f"holds a sweep {self.name!r} with other settings: the "
                                        "same command on every worker, or another store")  # fmt: skip

    def take(self):
        """(index, takes) of the next cell nobody trains (a dead worker's included), now this
        worker's; None when every cell is done, failed or being trained."""
        sa, c = self.sa, self.cells
        self._expire_dead_here()
        while True:
            now = time.time()
            stale = now - grace_seconds()
            open_ = sa.and_(c.c.sweep == self.name, sa.or_(
                c.c.state == PENDING, sa.and_(c.c.state == RUNNING, c.c.heartbeat < stale)))  # fmt: skip
            with self.engine.begin() as db:
                row = db.execute(sa.select(c.c.idx, c.c.takes).where(open_).order_by(c.c.idx)
                                 .limit(1)).first()  # fmt: skip
                if row is None:
                    return None
                taken = db.execute(
                    sa.update(c).where(open_, c.c.idx == row.idx)
                    .values(state=RUNNING, worker=self.worker, heartbeat=now, takes=row.takes + 1)
                ).rowcount  # fmt: skip
            if taken == 1:
                return row.idx, row.takes + 1
            # another worker took it between the read and the write: look again

    def _expire_dead_here(self):
        """Cells left running by a worker process of this host that no longer exists (a sweep
        stopped and started again): open now, not after the grace period."""
        sa, c = self.sa, self.cells
        host = socket.gethostname()
        with self.engine.begin() as db:
            running = db.execute(sa.select(c.c.idx, c.c.worker).where(
                c.c.sweep == self.name, c.c.state == RUNNING)).all()  # fmt: skip
            for row in running:
                name, _, rest = (row.worker or "").partition(":")
                pid = rest.partition(":")[0]
                if name == host and pid.isdigit() and not process_alive(int(pid)):
                    db.execute(sa.update(c).where(c.c.sweep == self.name, c.c.idx == row.idx,
                                                  c.c.worker == row.worker).values(heartbeat=0.0))  # fmt: skip

    def beat(self, index):
        """This worker is alive and still training cell `index`."""
        with self.engine.begin() as db:
            db.execute(self.sa.update(self.cells).where(*self._mine(index))
                       .values(heartbeat=time.time()))  # fmt: skip

    def finish(self, index, state, result, run=None):
        """Cell `index` done (its point) or failed (its failure row), with where its run is.
        False when the cell was no longer this worker's (it fell silent and another took it)."""
        with self.engine.begin() as db:
            return db.execute(
                self.sa.update(self.cells).where(*self._mine(index)).values(
                    state=state, result=json.dumps(result), host=socket.gethostname(), run=run)
            ).rowcount == 1  # fmt: skip

    def _mine(self, index):
        c = self.cells.c
        return (c.sweep == self.name, c.idx == index, c.worker == self.worker, c.state == RUNNING)

    def rows(self):
        with self.engine.begin() as db:
            return db.execute(self.sa.select(self.cells).where(self.cells.c.sweep == self.name)
                              .order_by(self.cells.c.idx)).all()  # fmt: skip

    def close(self):
        self.engine.dispose()


def _url(url):
    """`postgresql://` through psycopg (3), the driver the zoo installs, where psycopg2 is absent."""
    import importlib.util

    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg2") is None:
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class _Heartbeat:
    """Beats for one cell in a thread while it trains."""

    def __init__(self, queue, index):
        self.queue, self.index = queue, index
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join()
        return False

    def _loop(self):
        # Four beats a grace period at least, so a live worker is never taken for a dead one.
        while not self.stopped.wait(min(HEARTBEAT_SECONDS, grace_seconds() / 4)):
            self.queue.beat(self.index)


def train_shared(planned, queue, store, reporter, point):
    """Take and train cells until none is left, then wait for the other workers' last cells.
    Returns (every done cell's point, every failed cell's row) from the store, in plan order,
    and this worker's cell count. `point(p, record)` is a finished run's point."""
    mine = 0
    while True:
        taken = queue.take()
        if taken is None:
            rows = queue.rows()
            if all(r.state in (DONE, FAILED) for r in rows):
                break
            time.sleep(POLL_SECONDS)  # cells in training elsewhere: one may come back
            continue
        index, takes = taken
        p = planned[index]
        if takes > 1:
            reporter.message(f"{p.label} seed {p.seed}: its worker fell silent; taken again")
            store.rescan()  # its run may have started here since the scan: resume it
        try:
            with _Heartbeat(queue, index):
                record = store.obtain(p.plan, reporter, index, len(planned), p.label, p.seed)
        except RunFailed as failure:
            reporter.message(f"{p.label} seed {p.seed} failed: {failure}")
            queue.finish(index, FAILED, failure_row(p, store.find(p.plan.key)))
            continue
        mine += 1
        if not queue.finish(index, DONE, point(p, record), str(record.path.resolve())):
            reporter.message(f"{p.label} seed {p.seed}: finished after another worker took it")
    points = [json.loads(r.result) for r in queue.rows() if r.state == DONE]
    failed = [json.loads(r.result) for r in queue.rows() if r.state == FAILED]
    return points, failed, mine


__all__ = ["CellQueue", "grace_seconds", "train_shared"]
