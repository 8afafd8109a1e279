"""Draws the performance page's figures (docs/img/*.png) from recorded measurements.

    pip install matplotlib        # or: pip install ".[plot]"
    python bench/plots.py         # reads bench/results.json, writes docs/img/*.png

The numbers come from bench/results.json, which holds the figures of the README's tables
(each entry names the bench script and arguments that measured it). This script runs no
benchmark: after re-measuring, update results.json (and the README) and run it again.
Every figure is labelled with the machine and date recorded in results.json.
"""
import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
COLORS = {"tinygrad_cpp": "#1f77b4", "torch": "#ff7f0e", "numpy": "#2ca02c"}
LABELS = {"tinygrad_cpp": "tinygrad_cpp", "torch": "PyTorch", "numpy": "numpy"}


def _footer(fig, res, source):
    fig.text(0.01, 0.01, f"{res['machine']}; {res['date']}; {res['software']}\nrecorded with {source}",
             fontsize=7, color="#555555", va="bottom")


def _bars(ax, groups, series, ylabel, title, log=False):
    """Grouped bars: series is [(label, color, values, hatch)], one value per group."""
    n = len(series)
    width = 0.8 / n
    for i, (label, color, values, hatch) in enumerate(series):
        xs = [g + (i - (n - 1) / 2) * width for g in range(len(groups))]
        vals = [v if v is not None else 0 for v in values]
        bars = ax.bar(xs, vals, width, label=label, color=color, hatch=hatch, edgecolor="white", linewidth=0.5)
        for b, v in zip(bars, values):
            if v is None:
                ax.text(b.get_x() + b.get_width() / 2, 0, "n/a", ha="center", va="bottom", fontsize=6, rotation=90)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    if log:
        ax.set_yscale("log")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def _two_libs(d, libs=("tinygrad_cpp", "torch")):
    out = []
    for lib in libs:
        for thr, hatch in (("1", ""), ("2", "//")):
            out.append((f"{LABELS[lib]}, {thr} thread{'s' if thr != '1' else ''}", COLORS[lib], d[lib][thr], hatch))
    return out


def plot_mnist_mlp(res, out):
    d = res["mnist_mlp"]
    fig, ax = plt.subplots(figsize=(7, 4))
    _bars(ax, [f"batch {b}" for b in d["batch"]], _two_libs(d), "seconds per epoch (lower is better)",
          "MNIST MLP 784-128-64-10, one training epoch")
    ax.legend(fontsize=8)
    fig.subplots_adjust(bottom=0.2)
    _footer(fig, res, d["source"])
    fig.savefig(os.path.join(out, "mnist_mlp.png"), dpi=120)
    plt.close(fig)


def plot_gemm(res, out):
    d = res["gemm"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
    for ax, isa, title in zip(axes, ("avx512", "avx2"), ("AVX-512 kernels", "AVX2 kernels")):
        series = []
        for lib in ("tinygrad_cpp", "numpy", "torch"):
            for thr, hatch in (("1", ""), ("2", "//")):
                series.append((f"{LABELS[lib]}, {thr} thr", COLORS[lib], d[isa][lib][thr], hatch))
        _bars(ax, [s.replace(" @ ", "\n@ ") for s in d["shapes"]], series, "GFLOP/s (higher is better)",
              f"float32 GEMM, {title}")
        ax.tick_params(axis="x", labelsize=6)
    axes[1].set_ylabel("")
    axes[0].set_ylim(0, 270)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, ncol=6, loc="upper center", bbox_to_anchor=(0.5, 0.99))
    fig.subplots_adjust(bottom=0.25, top=0.86, wspace=0.05)
    _footer(fig, res, d["source"])
    fig.savefig(os.path.join(out, "gemm.png"), dpi=120)
    plt.close(fig)


def plot_training_steps(res, out):
    d = res["training_steps"]
    fig, ax = plt.subplots(figsize=(7, 4))
    # time relative to PyTorch's at the same thread count (PyTorch = 1)
    ratios = {thr: [t / p for t, p in zip(d["tinygrad_cpp"][thr], d["torch"][thr])] for thr in ("1", "2")}
    series = [("1 thread", COLORS["tinygrad_cpp"], ratios["1"], ""),
              ("2 threads", COLORS["tinygrad_cpp"], ratios["2"], "//")]
    _bars(ax, [m.replace(", ", "\n") for m in d["models"]], series,
          "tinygrad_cpp time / PyTorch time", "One training step, relative to PyTorch (below 1: faster)")
    ax.axhline(1.0, color=COLORS["torch"], linewidth=1.5, label="PyTorch")
    ax.legend(fontsize=8)
    fig.subplots_adjust(bottom=0.22)
    _footer(fig, res, d["source"])
    fig.savefig(os.path.join(out, "training_steps.png"), dpi=120)
    plt.close(fig)


def plot_contention(res, out):
    d = res["contention"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 4), sharey=True)
    for ax, key, title in zip(axes, ("batch_64", "batch_256"), ("batch 64", "batch 256")):
        series = [(LABELS[lib], COLORS[lib], d[key][lib], "") for lib in ("tinygrad_cpp", "torch")]
        _bars(ax, d["load"], series, "seconds per epoch (lower is better)", f"MNIST MLP epoch, {title}")
    axes[1].set_ylabel("")
    axes[0].legend(fontsize=8)
    fig.suptitle("On a busy machine: each library's default threads (2) beside busy processes", fontsize=10)
    fig.subplots_adjust(bottom=0.2, wspace=0.05)
    _footer(fig, res, d["source"])
    fig.savefig(os.path.join(out, "contention.png"), dpi=120)
    plt.close(fig)


def plot_per_call(res, out):
    d = res["per_call"]
    fig, ax = plt.subplots(figsize=(8, 4))
    series = [(LABELS[lib], COLORS[lib], d[lib], "") for lib in ("tinygrad_cpp", "torch")]
    _bars(ax, [o.replace(", ", "\n") for o in d["ops"]], series, "microseconds per call (log scale)",
          "Per-call overhead, 1 thread", log=True)
    ax.tick_params(axis="x", labelsize=7)
    ax.legend(fontsize=8)
    fig.subplots_adjust(bottom=0.22)
    _footer(fig, res, d["source"])
    fig.savefig(os.path.join(out, "per_call.png"), dpi=120)
    plt.close(fig)


PLOTS = [plot_mnist_mlp, plot_gemm, plot_training_steps, plot_contention, plot_per_call]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", default=os.path.join(HERE, "results.json"))
    p.add_argument("--out", default=os.path.join(HERE, "..", "docs", "img"))
    args = p.parse_args(argv)
    with open(args.results) as f:
        res = json.load(f)
    os.makedirs(args.out, exist_ok=True)
    for plot in PLOTS:
        plot(res, args.out)
        print("wrote", os.path.join(os.path.relpath(args.out), plot.__name__[len("plot_"):] + ".png"))


if __name__ == "__main__":
    main()
