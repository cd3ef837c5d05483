"""A rich rendering of `zoo.train()` progress: plan, progress bar, evaluation lines, summary."""

import math

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.markup import escape
from rich.table import Table

from zoo_cli.output import human, scientific


class RichReporter:
    """Implements the `zoo.training.loop.Reporter` methods on a rich console."""

    def __init__(self, console):
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.task = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.task is not None:
            self.progress.stop()
        return False

    def start(self, plan, facts):
        """`plan`: the `RunPlan`; `facts`: what this session runs on (see `Reporter.start`)."""
        budget = plan.budget
        eta = facts.get("estimated_seconds")
        peak = facts.get("peak_flops")
        resumed = facts.get("resumed_at_step")
        lines = [
            f"[bold]{plan.preset}[/] → {facts['run_id']}"
            + (f"  (resuming at step {resumed})" if resumed else ""),
            f"budget: {human(budget.tokens)} tokens = {budget.steps} steps × "
            f"{budget.batch_size} × {budget.seq_len}; {scientific(budget.flops)} FLOPs "
            f"({budget.given_as})" + (f"; estimated {_duration(eta)} at 50% MFU" if eta else ""),
            f"data: {plan.data.spec} · tokenizer {plan.tokenizer.kind} "
            f"({plan.tokenizer.mode}, vocabulary {plan.model.vocabulary_size})",
            f"device: {facts['device']} · peak "
            + (
                f"{peak / 1e9:.0f} GFLOP/s ({facts['peak_flops_source']})"
                if peak
                else facts["peak_flops_source"]
            )
            + f" · precision {plan.run.precision.value}",
            _distribution(facts),
            f"optimizer: {_optimizer(facts['optimizer'])}",
        ]
        choice = plan.backend_choice or {}
        if choice.get("requested") == "auto":  # why this backend (an explicit one needs no why)
            lines.insert(-1, f"backend {escape(choice['reason'])}")
        unigram = plan.data.unigram_bits_per_byte
        if unigram:
            lines.append(f"unigram baseline: {unigram:.3f} bits/byte on validation")
        for line in lines:
            self.console.print(line)
        self.progress.start()
        self.task = self.progress.add_task(
            "training", total=budget.steps, completed=resumed or 0, stats="compiling…"
        )

    def step(self, p):
        stats = [
            f"loss {p['loss']:.3f}" if p.get("loss") is not None else "",
            f"lr {p['learning_rate']:.2e}",
        ]
        if p.get("tokens_per_second"):
            stats.append(f"{p['tokens_per_second']:,.0f} tok/s")
        if p.get("mfu") is not None:
            stats.append(f"MFU {p['mfu']:.0%}")
        self.progress.update(
            self.task, completed=p["step"], stats=" · ".join(s for s in stats if s)
        )

    def evaluation(self, row):
        bpb = row.get("validation_bits_per_byte")
        self.progress.console.print(
            f"step {row['step']:>6} · tokens {human(row['tokens'])} · train {row['train_loss']:.4f}"
            f" · val {row['validation_loss']:.4f} nats/token"
            + (f" · {bpb:.3f} bits/byte" if bpb is not None else "")
        )

    def message(self, text):
        self.progress.console.print(f"[yellow]{text}[/]")

    def end(self, summary):
        self.progress.stop()
        self.task = None
        table = Table(title="summary", show_header=False)
        unigram = summary.get("unigram_bits_per_byte")
        rows = [
            ("steps / tokens", f"{summary['steps']} / {human(summary['tokens'])}"),
            ("training FLOPs", scientific(summary["flops"])),
            ("final train loss", f"{summary['final_train_loss']:.4f} nats/token"),
            (
                "validation loss",
                f"{summary['validation_loss']:.4f} nats/token "
                f"({summary['validation_windows']} windows)",
            ),
        ]
        if summary.get("validation_bits_per_byte") is not None:
            rows.append(("validation bits/byte", f"{summary['validation_bits_per_byte']:.3f}"))
        if unigram:
            rows.append(("unigram bits/byte", f"{unigram:.3f}"))
        if summary.get("ngram_bits_per_byte") is not None:
            rows.append(
                (
                    "KN n-gram bits/byte",
                    f"{summary['ngram_bits_per_byte']:.3f} (order {summary['ngram_order']})",
                )
            )
        if summary.get("tokens_per_second"):
            rows.append(("tokens/s", f"{summary['tokens_per_second']:,.0f}"))
        if summary.get("mfu") is not None:
            rows.append(("MFU", f"{summary['mfu']:.1%}"))
        rows.append(("wall time", _duration(summary["wall_time"])))
        for key, value in rows:
            table.add_row(key, value)
        self.console.print(table)


def _optimizer(described):
    """'AdamW β=(0.9, 0.95) wd 0.1 clip 1.0 · CosineDecay peak 2e-03, warmup 30, to 2e-04'."""
    lr = described["learning_rate"]
    parts = [described["optimizer"]]
    if described.get("beta_2") is not None:
        parts.append(f"β=({described['beta_1']}, {described['beta_2']})")
    elif described.get("beta_2_decay") is not None:
        parts.append(f"β1={described['beta_1']}, β2=1-k^{described['beta_2_decay']}")
    if described.get("weight_decay"):
        parts.append(f"wd {described['weight_decay']:g}")
    if described.get("global_clipnorm"):
        parts.append(f"clip {described['global_clipnorm']:g}")
    schedule = f"{lr['schedule']} peak {lr['peak_learning_rate']:.0e}"
    if "warmup_steps" in lr:
        schedule += f", warmup {lr['warmup_steps']}, to {lr['final_learning_rate']:.0e}"
    if "constant_steps" in lr:
        schedule += f", constant {lr['constant_steps']} steps then ∝ 1/√step"
    return " ".join(parts) + " · " + schedule


def _distribution(facts):
    """Strategy, backend, replicas and what XLA compiles (the effective setting, not the ask)."""
    d = facts.get("distribution") or {}
    xla = facts["xla"]
    where = f"strategy {d.get('strategy', 'none')}"
    if d.get("requested") == "auto":
        where += " (auto)"
    where += f" on {d.get('backend', 'tensorflow')}, {d.get('replicas', 1)} replica(s)"
    if d.get("mesh") and d["mesh"].get("model", 1) > 1:
        where += f", mesh {d['mesh']['data']}×{d['mesh']['model']} (data×model)"
    compiled = xla.get("compiled", "whole step") if xla["effective"] else "off"
    return f"{where} · XLA: {compiled}"


def _duration(seconds):
    if seconds is None or not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
