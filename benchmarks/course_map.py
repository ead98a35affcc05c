"""The course map's figure: what each technique of the course buys on one model.

Every technique is applied to the same trained LeNet-300-100 on the digits (``mclib.zoo.digits_lenet300``,
64-300-100-10, 50,610 parameters) at a few settings, and its test accuracy is plotted against the
bytes needed to store the compressed model. The techniques are the graded functions of the solution
notebooks themselves: this script executes the set-up cell and the solution cells of
``solutions/NN-topic/NN-topic.ipynb`` in one namespace per lesson, so the figure always shows what the
lessons teach (and mclib never holds an answer).

    python benchmarks/course_map.py            # prints the table, writes docs/course_map.png
    python benchmarks/course_map.py --out x.png

Sizes count what a file would hold: float32 values, sparse (CSR, 16-bit indices) storage for pruned
weights, N-bit indices plus a float32 codebook for k-means, N-bit weights plus a float32 scale per
output channel for linear quantization; biases stay float32. Activations are quantized too in PTQ and
QAT, which does not change the size. The capstone's points (lesson 06) are real files: the bytes
save_compressed wrote to disk, everything included, and the accuracy of the model load_compressed
read back. Takes a few minutes on one CPU core.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("MCLIB_PROGRESS", "0")

import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from autograder.notebooks import nbgrader_role  # noqa: E402
from mclib import data, measure, models, train, zoo  # noqa: E402


def lesson_namespace(lesson: str, given: tuple[str, ...] = ()) -> dict:
    """Run the set-up cell (the first code cell), the cells whose ids are in ``given`` (a lesson's
    provided tools) and every solution cell of the lesson's solution notebook, in notebook order;
    return the namespace with the graded functions."""
    path = ROOT / "solutions" / lesson / f"{lesson}.ipynb"
    cells = [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
    ns = {"__name__": f"course_map_{lesson.replace('-', '_')}"}
    for i, cell in enumerate(cells):
        role, _ = nbgrader_role(cell)
        if i == 0 or role == "solution" or cell.get("id") in given:
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            source = "\n".join(ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!")))
            exec(compile(source, f"{path.name} cell {cell.get('id')}", "exec"), ns)
    return ns


LAYERS = ("fc1", "fc2", "fc3")


def bias_bytes(model) -> int:
    return sum(4 * m.bias.numel() for m in model.modules() if isinstance(m, torch.nn.Linear) and m.bias is not None)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "course_map.png")
    parser.add_argument("--epochs", type=int, default=10, help="fine-tuning epochs (pruning, QAT, SVD)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    started = time.monotonic()

    base = zoo.digits_lenet300()
    splits = data.load_digits(flat=True, seed=0)
    train_loader, _, test_loader = data.make_loaders(splits, batch_size=64, seed=0)

    def acc(model):
        return 100 * train.evaluate(model, test_loader)

    n_params = measure.num_parameters(base)
    float_bytes = 4 * n_params
    rows = [("float32", "LeNet-300-100", float_bytes, acc(base))]
    weights = {name: getattr(base, name).weight for name in LAYERS}

    # Lesson 02: magnitude pruning of every layer, then masked retraining.
    l02 = lesson_namespace("02-pruning")
    settings = {"Han et al.": {"fc1": 0.92, "fc2": 0.91, "fc3": 0.74}}
    settings.update({f"{s:.0%}": {n: s for n in LAYERS} for s in (0.5, 0.8, 0.9, 0.95)})
    for label, sparsity in settings.items():
        model = copy.deepcopy(base)
        masks = {f"{n}.weight": l02["magnitude_prune_mask"](getattr(model, n).weight, s)
                 for n, s in sparsity.items()}
        l02["apply_masks"](model, masks)
        train.fit(model, train_loader, epochs=args.epochs, lr=1e-3, seed=0, show_progress=False)
        size = sum(l02["sparse_storage_bytes"](getattr(model, n).weight.detach(), 16) for n in LAYERS)
        rows.append(("pruning + retraining (02)", label, size + bias_bytes(model), acc(model)))

    # Lesson 03: k-means weight sharing (linear initialisation), no fine-tuning.
    l03 = lesson_namespace("03-kmeans-quantization")
    for bits in (1, 2, 3, 4, 6):
        model = copy.deepcopy(base)
        size_bits = 0
        for i, n in enumerate(LAYERS):
            layer = getattr(model, n)
            cb, idx = l03["kmeans_quantize"](layer.weight.data, bits, init="linear",
                                             generator=torch.Generator().manual_seed(i))
            layer.weight.data = l03["dequantize"](cb, idx)
            # the layer's weight as indices + codebook; its bias is counted in bias_bytes below
            size_bits += l03["quantized_model_bits"](layer, bits) - 32 * layer.bias.numel()
        rows.append(("k-means quantization (03)", f"{bits} bit", math.ceil(size_bits / 8) + bias_bytes(model),
                     acc(model)))

    # Lesson 04: linear quantization of weights and activations, per channel; PTQ and QAT.
    l04 = lesson_namespace("04-linear-quantization")
    perm = torch.randperm(len(splits.y_train), generator=torch.Generator().manual_seed(0))[:512]
    calib = [(splits.x_train[perm[i:i + 256]], splits.y_train[perm[i:i + 256]]) for i in (0, 256)]

    def linear_q_bytes(bits):
        return sum(math.ceil(bits * weights[n].numel() / 8) + 4 * weights[n].shape[0] for n in LAYERS) \
            + bias_bytes(base)

    for bits in (8, 4, 3, 2):
        model = l04["calibrate"](l04["quantize_model"](base, bits, bits, True), calib)
        rows.append(("linear quantization, PTQ (04)", f"{bits} bit", linear_q_bytes(bits), acc(model)))
    for bits in (4, 3, 2):
        model = l04["calibrate"](l04["quantize_model"](base, bits, bits, True), calib)
        train.fit(model, train_loader, epochs=args.epochs, lr=1e-3, seed=0, show_progress=False)
        rows.append(("linear quantization, QAT (04)", f"{bits} bit", linear_q_bytes(bits), acc(model)))

    # Lesson 05: truncated SVD of fc1 and fc2, then fine-tuning.
    l05 = lesson_namespace("05-low-rank")
    for rank in (4, 8, 16, 32):
        model = copy.deepcopy(base)
        model.fc1 = l05["svd_linear"](model.fc1, rank)
        model.fc2 = l05["svd_linear"](model.fc2, rank)
        train.fit(model, train_loader, epochs=args.epochs, lr=3e-4, seed=0, show_progress=False)
        rows.append(("low-rank SVD + fine-tuning (05)", f"rank {rank}", 4 * measure.num_parameters(model),
                     acc(model)))

    # Lesson 01: distillation of LeNet-300-100 into a one-hidden-layer MLP 64-h-10.
    l01 = lesson_namespace("01-distillation")
    student_loader, _, _ = data.make_loaders(splits, batch_size=128, seed=0)
    for hidden in (8, 16, 32, 64):
        torch.manual_seed(0)
        student = models.MLP([64, hidden, 10])
        l01["train_student"](student, base, student_loader, T=4.0, lam=0.1, epochs=30, lr=1e-2, seed=0,
                             show_progress=False)
        rows.append(("distillation (01)", f"64-{hidden}-10", 4 * measure.num_parameters(student), acc(student)))

    # Lesson 06 (capstone): the whole Deep Compression pipeline under a budget of 1/40 of the float32
    # file (sensitivities -> allocate_budget -> prune + retrain -> trained k-means -> save_compressed),
    # sized on disk and read back with load_compressed; and the uniform plan of the same budget.
    l06 = lesson_namespace("06-capstone", given=("load-model", "tools", "sensitivity", "bit-helpers"))
    budget = int(0.95 * (l06["TARGET_BYTES"] - 6))
    chosen = l06["allocate_budget"](l06["sensitivity"], budget)
    fits = [(d, b) for d in l06["DENSITIES"] for b in l06["BITS"]
            if sum(l06["sensitivity"][n][(d, b)][0] for n in LAYERS) <= budget]
    for label, plan in (("uniform plan", {n: max(fits) for n in LAYERS}), ("allocated plan", chosen)):
        pruned, masks = l06["prune_and_retrain"](base, plan, 0)
        quantized, _ = l06["quantize_and_finetune"](pruned, masks, plan, 0)
        path = Path(l06["WORKDIR"]) / "course-map.dcmp"
        size = l06["save_compressed"](quantized, plan, path)
        rows.append(("prune + k-means + Huffman file (06)", label, size, acc(l06["load_compressed"](path))))

    print(f"LeNet-300-100 on the digits ({n_params:,} parameters, {len(splits.y_test)} test images), "
          f"{args.epochs} fine-tuning epochs")
    print(f"{'technique':34s} {'setting':14s} {'size KiB':>9s} {'x smaller':>9s} {'accuracy':>9s}")
    for tech, setting, size, a in rows:
        print(f"{tech:34s} {setting:14s} {size / 1024:9.1f} {float_bytes / size:9.1f} {a:8.2f}%")

    # Left: every point; right: the top of the range, where the settings worth using are, labelled.
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5), gridspec_kw={"width_ratios": [1, 1.5]})
    techniques = list(dict.fromkeys(r[0] for r in rows[1:]))
    markers = "osD^v<>"
    zoom = 90.0
    for k, ax in enumerate(axes):
        ax.axhline(rows[0][3], color="0.5", ls="--", lw=1)
        ax.scatter([float_bytes / 1024], [rows[0][3]], marker="*", s=180, color="k", zorder=3,
                   label=f"float32 LeNet-300-100 ({float_bytes / 1024:.0f} KiB)")
        for i, tech in enumerate(techniques):
            pts = sorted((r for r in rows if r[0] == tech), key=lambda r: r[2])
            xs, ys = [p[2] / 1024 for p in pts], [p[3] for p in pts]
            ax.plot(xs, ys, marker=markers[i % len(markers)], label=tech, lw=1.2, ms=6)
            if k == 1:
                for p, x, y in zip(pts, xs, ys):
                    if y >= zoom:
                        ax.annotate(p[1], (x, y), textcoords="offset points", xytext=(4, -10 - 2 * (i % 3)),
                                    fontsize=7, color=f"C{i}")
        ax.set_xscale("log")
        ax.grid(alpha=0.3, which="both")
        ax.set(xlabel="stored size (KiB, log scale)", ylabel="test accuracy (%)")
    axes[0].set(title="All settings", ylim=(0, 100.5))
    axes[0].legend(fontsize=8, loc="lower right")
    axes[1].set(title=f"Zoom on accuracy >= {zoom:.0f}%", ylim=(zoom, 99))
    fig.suptitle(f"What each lesson's technique reaches on LeNet-300-100 (8x8 digits, "
                 f"{len(splits.y_test)} test images; one image = {100 / len(splits.y_test):.2f} points)")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out} in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
