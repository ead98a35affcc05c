"""Measuring a model: parameters, storage, multiply-accumulates and latency.

Conventions, stated once:
- A **MAC** is one multiply-accumulate. ``torch.utils.flop_counter`` counts FLOPs as 2 x MACs for
  convolutions and matrix products; ``count_macs`` divides by 2. The lecture's "725M FLOPs" for
  AlexNet are MACs in this sense. Bias additions, activations and pooling are not counted.
- **Sizes** are in bytes; a partial byte rounds up. Bits per value are positive integers.
- **Latency** is wall-clock time of one forward pass in milliseconds, the median over repeated
  measurements by ``torch.utils.benchmark`` (which also handles warm-up), with the thread count
  recorded because it changes the result.
- **Devices**: everything is measured where the model is (the CPU, unless you moved it), with the
  input moved there; ``latency(..., device=...)`` measures elsewhere and moves the model back.

The lessons ask students to write some of these by hand (for example counting parameters or a
convolution's MACs); those graded exercises are checked with this module switched off.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

__all__ = [
    "num_parameters", "dense_bytes", "sparse_bytes", "codebook_bytes", "model_bytes",
    "count_macs", "macs_by_module", "Latency", "latency", "Row", "ComparisonTable", "compare",
]


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _nonnegative_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def _module(model) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    return model


def num_parameters(model: nn.Module, nonzero: bool = False) -> int:
    """Number of parameter values in ``model`` (each shared tensor once); with ``nonzero=True``
    only those that are not exactly zero (what pruning leaves)."""
    params = {id(p): p for p in _module(model).parameters()}.values()
    if nonzero:
        return int(sum(int(torch.count_nonzero(p.detach())) for p in params))
    return int(sum(p.numel() for p in params))


def dense_bytes(num_values: int, bits: int = 32) -> int:
    """Bytes to store ``num_values`` values of ``bits`` bits each, packed (a partial byte rounds up)."""
    _nonnegative_int("num_values", num_values)
    _positive_int("bits", bits)
    return math.ceil(num_values * bits / 8)


def sparse_bytes(num_nonzero: int, value_bits: int = 32, index_bits: int = 32,
                 num_rows: int = 0) -> int:
    """Bytes of a CSR-like sparse store: one value and one column index per non-zero, plus
    ``num_rows + 1`` row pointers of ``index_bits`` each (pass 0 rows for a flat COO-like list)."""
    _nonnegative_int("num_nonzero", num_nonzero)
    _positive_int("value_bits", value_bits)
    _positive_int("index_bits", index_bits)
    _nonnegative_int("num_rows", num_rows)
    pointers = num_rows + 1 if num_rows else 0
    return math.ceil((num_nonzero * (value_bits + index_bits) + pointers * index_bits) / 8)


def codebook_bytes(num_values: int, index_bits: int, codebook_bits: int = 32) -> int:
    """Bytes of a shared-codebook store (k-means quantization): ``index_bits`` per value plus a
    codebook of ``2**index_bits`` entries of ``codebook_bits`` each."""
    _nonnegative_int("num_values", num_values)
    _positive_int("index_bits", index_bits)
    _positive_int("codebook_bits", codebook_bits)
    return math.ceil((num_values * index_bits + 2 ** index_bits * codebook_bits) / 8)


def model_bytes(model: nn.Module, bits: int = 32, sparse: bool = False, index_bits: int = 32) -> int:
    """Storage of a model's parameters: dense at ``bits`` per value, or (``sparse=True``) only the
    non-zeros, each with an ``index_bits`` index."""
    if sparse:
        return sparse_bytes(num_parameters(model, nonzero=True), bits, index_bits)
    return dense_bytes(num_parameters(model), bits)


def _flop_counts(model: nn.Module, example_input: torch.Tensor) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    from .train import model_device

    model = _module(model)
    if not isinstance(example_input, torch.Tensor):
        raise TypeError(f"example_input must be a tensor, got {type(example_input).__name__}")
    example_input = example_input.to(model_device(model))
    was_training = model.training
    model.eval()
    try:
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            model(example_input)
    finally:
        model.train(was_training)
    return counter.get_flop_counts()


def count_macs(model: nn.Module, example_input: torch.Tensor) -> int:
    """Multiply-accumulates of one forward pass on ``example_input`` (the whole batch), measured by
    ``torch.utils.flop_counter`` (FLOPs / 2)."""
    counts = _flop_counts(model, example_input)
    return int(sum(counts.get("Global", {}).values())) // 2


def macs_by_module(model: nn.Module, example_input: torch.Tensor) -> dict[str, int]:
    """MACs per leaf module that does any (its name in ``model.named_modules()``), in
    forward order."""
    counts = _flop_counts(model, example_input)
    leaves = {name for name, m in model.named_modules() if name and not list(m.children())}
    prefix = type(model).__name__ + "."
    out = {}
    for key, ops in counts.items():
        name = key[len(prefix):] if key.startswith(prefix) else key
        if name in leaves and sum(ops.values()):
            out[name] = int(sum(ops.values())) // 2
    return out


@dataclass(frozen=True)
class Latency:
    """A latency measurement: median and interquartile range in milliseconds per forward pass."""

    median_ms: float
    iqr_ms: float
    batch_size: int
    threads: int
    runs: int

    @property
    def per_item_ms(self) -> float:
        return self.median_ms / self.batch_size

    def __str__(self) -> str:
        return (f"{self.median_ms:.3f} ms (IQR {self.iqr_ms:.3f}) at batch {self.batch_size}, "
                f"{self.threads} thread(s), {self.runs} runs")


def latency(model: nn.Module, example_input: torch.Tensor, min_run_time: float = 0.2,
            threads: int | None = None, device: torch.device | str | None = None) -> Latency:
    """Median forward-pass time of ``model`` on ``example_input`` in eval mode without autograd,
    measured by ``torch.utils.benchmark.Timer.blocked_autorange`` for at least ``min_run_time``
    seconds. ``threads`` defaults to torch's current setting. Measured where the model is (the
    input is moved there), or on ``device`` when given; the model ends where it came in."""
    import timeit

    import torch.utils.benchmark as benchmark

    from .train import _on

    model = _module(model)
    if not isinstance(example_input, torch.Tensor):
        raise TypeError(f"example_input must be a tensor, got {type(example_input).__name__}")
    if not min_run_time > 0:
        raise ValueError(f"min_run_time must be a positive number of seconds, got {min_run_time!r}")
    threads = torch.get_num_threads() if threads is None else _positive_int("threads", threads)
    was_training = model.training
    with _on(model, device) as where:
        x = example_input.to(where)
        # On the CPU, a plain clock: torch's default timer synchronizes CUDA whenever torch was
        # built with it and reports a GPU, which is wasted (or fails) for a CPU measurement.
        clock = {"timer": timeit.default_timer} if where.type == "cpu" else {}
        model.eval()
        try:
            with torch.no_grad():
                model(x)  # warm-up outside the timed region (allocations, lazy init)
                timer = benchmark.Timer(stmt="model(x)", globals={"model": model, "x": x},
                                        num_threads=threads, **clock)
                m = timer.blocked_autorange(min_run_time=min_run_time)
        finally:
            model.train(was_training)
    return Latency(median_ms=m.median * 1e3, iqr_ms=m.iqr * 1e3,
                   batch_size=int(example_input.shape[0]) if example_input.dim() else 1,
                   threads=threads, runs=len(m.times))


@dataclass
class Row:
    """One model in a comparison: any of the measurements may be missing (None)."""

    name: str
    size_bytes: int | None = None
    macs: int | None = None
    latency_ms: float | None = None
    accuracy: float | None = None
    extra: dict = field(default_factory=dict)


class ComparisonTable:
    """Original vs compressed models side by side, with ratios against the first row: size and
    MACs as "x smaller" (original / this), latency as "x faster", accuracy as a difference in
    percentage points. Renders as HTML in Jupyter and as text elsewhere."""

    def __init__(self, rows):
        rows = list(rows)
        if not rows or not all(isinstance(r, Row) for r in rows):
            raise ValueError("ComparisonTable needs at least one mclib.measure.Row; "
                             "the first is the baseline")
        self.rows = rows

    @staticmethod
    def _ratio(base, value):
        if base is None or value is None or value == 0:
            return None
        return base / value

    def records(self) -> list[dict]:
        """One dict per row with the raw values and the ratios against the baseline."""
        base = self.rows[0]
        out = []
        for r in self.rows:
            rec = {"model": r.name, "size_bytes": r.size_bytes,
                   "size_ratio": self._ratio(base.size_bytes, r.size_bytes),
                   "macs": r.macs, "macs_ratio": self._ratio(base.macs, r.macs),
                   "latency_ms": r.latency_ms,
                   "speedup": self._ratio(base.latency_ms, r.latency_ms),
                   "accuracy": r.accuracy,
                   "accuracy_change_pts": (None if r.accuracy is None or base.accuracy is None
                                           else 100 * (r.accuracy - base.accuracy))}
            rec.update(r.extra)
            out.append(rec)
        return out

    def _cells(self):
        def fmt(key, v):
            if v is None:
                return "–"
            if key in ("size_ratio", "macs_ratio", "speedup"):
                return f"×{v:.2f}"
            if key == "size_bytes":
                return f"{v / 1024:,.1f} KiB" if v < 1024 ** 2 else f"{v / 1024 ** 2:,.2f} MiB"
            if key == "macs":
                return f"{v / 1e6:,.2f} M"
            if key == "latency_ms":
                return f"{v:.3f}"
            if key == "accuracy":
                return f"{100 * v:.2f}%"
            if key == "accuracy_change_pts":
                return f"{v:+.2f}"
            return str(v)

        records = self.records()
        all_keys = dict.fromkeys(k for rec in records for k in rec)  # extras may be on any row
        keys = [k for k in all_keys if any(rec.get(k) is not None for rec in records)]
        head = {"model": "model", "size_bytes": "size", "size_ratio": "smaller",
                "macs": "MACs", "macs_ratio": "fewer MACs", "latency_ms": "latency (ms)",
                "speedup": "faster", "accuracy": "accuracy", "accuracy_change_pts": "Δ acc (pts)"}
        return [head.get(k, k) for k in keys], [[fmt(k, rec.get(k)) for k in keys] for rec in records]

    def __str__(self) -> str:
        header, body = self._cells()
        widths = [max(len(x) for x in col) for col in zip(header, *body)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in body]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        header, body = self._cells()
        th = "".join(f"<th>{h}</th>" for h in header)
        trs = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in body)
        return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def compare(*rows: Row) -> ComparisonTable:
    """``compare(Row("dense", ...), Row("pruned", ...))``: a ComparisonTable, first row the baseline."""
    return ComparisonTable(rows)
