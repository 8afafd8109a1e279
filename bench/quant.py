"""Int8 dynamic quantization (tg.quantization.quantize_dynamic) beside PyTorch's
torch.ao.quantization.quantize_dynamic, on the MNIST MLP (examples/mnist_mlp.py's
784-128-64-10) and the MNIST CNN (examples/mnist_cnn.py's Net; its two Linear layers are
quantized):

- test accuracy of the float model and of the quantized one (<= 0.3 points lost),
- the state-dict file size, float over quantized (tg.save; torch.save for PyTorch),
- inference time of a batch of 256, float32 and int8, and their ratio (for the CNN also
  of its quantized part alone, fc1 -> relu -> fc2 on the conv features), for 1 and 2
  threads, with each library's best kernels and with both forced to AVX2 (`--isa avx2`
  style: our GEMMs through _set_gemm_isa, PyTorch through ONEDNN_MAX_CPU_ISA and
  ATEN_CPU_CAPABILITY; its fbgemm int8 kernels pick their ISA themselves).

The models are trained briefly with tinygrad_cpp here (the MLP one epoch of SGD, the CNN
--cnn-batches steps of Adadelta), their weights copied into both libraries. Every
timing runs in a fresh subprocess per library; times are medians of --repeat calls.

    python bench/quant.py [--threads 1 2] [--isa default avx2] [--repeat 20] [--cnn-batches 300]
"""
import argparse
import io
import json
import os
import sys
import tempfile
import time

import numpy as np

from cnn import build as make_cnn  # PyTorch's MNIST example CNN (examples/mnist_cnn.py's)
from common import median_ms, run_worker, torch_available, use_isa
from mnist_data import DEFAULT_DATA, equal_init, load_mnist

MEAN, STD = 0.1307, 0.3081  # the CNN example's Normalize


def make_mlp(nn):
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))


def inputs(kind, x):
    return x if kind == "mlp" else ((x - MEAN) / STD).reshape(-1, 1, 28, 28).astype(np.float32)


# ---- training (tinygrad_cpp, in the parent) ------------------------------------------------

def train(data_dir, cnn_batches, out_dir):
    import tinygrad_cpp as tg
    xtr, ytr = load_mnist(data_dir, test=False)
    rng = np.random.default_rng(0)
    tg.manual_seed(0)
    paths = {}
    t0 = time.perf_counter()
    mlp = make_mlp(tg.nn)
    equal_init(tg, mlp, rng)
    opt = tg.optim.SGD(mlp.parameters(), lr=0.01, momentum=0.9)
    X, Y = tg.from_numpy(xtr), tg.from_numpy(ytr)
    perm = rng.permutation(len(xtr))
    for i in range(0, len(xtr), 64):
        idx = tg.from_numpy(perm[i:i + 64])
        opt.zero_grad()
        tg.nn.functional.cross_entropy(mlp(X[idx]), Y[idx]).backward()
        opt.step()
    print(f"trained the MLP: 1 epoch in {time.perf_counter() - t0:.1f} s", flush=True)
    t0 = time.perf_counter()
    cnn = make_cnn(tg)
    opt = tg.optim.Adadelta(cnn.parameters(), lr=1.0)
    xc = inputs("cnn", xtr)
    perm = rng.permutation(len(xtr))
    for b in range(cnn_batches):
        idx = perm[b * 64:(b + 1) * 64]
        opt.zero_grad()
        tg.nn.functional.nll_loss(cnn(tg.from_numpy(xc[idx])), tg.from_numpy(ytr[idx])).backward()
        opt.step()
    print(f"trained the CNN: {cnn_batches} batches of 64 in {time.perf_counter() - t0:.1f} s", flush=True)
    for kind, model in (("mlp", mlp), ("cnn", cnn)):
        paths[kind] = os.path.join(out_dir, kind + ".npz")
        np.savez(paths[kind], **{k: v.detach().numpy() for k, v in model.state_dict().items()})
    return paths


# ---- one measurement (a fresh process per library) -----------------------------------------

def file_size(lib_name, lib, sd):
    buf = io.BytesIO()
    if lib_name == "torch":
        lib.save(sd, buf)
        return len(buf.getvalue())
    with tempfile.TemporaryDirectory() as d:
        f = os.path.join(d, "m")
        lib.save(sd, f)
        return os.path.getsize(f)


def worker(lib_name, threads, kind, weights, data_dir, repeat, accuracy):
    _, _, xte, yte = load_mnist(data_dir)
    if lib_name == "torch":
        import warnings
        warnings.simplefilter("ignore")
        import torch as lib
        quantize_dynamic = lib.ao.quantization.quantize_dynamic
        qconfig = {lib.nn.Linear: lib.ao.quantization.per_channel_dynamic_qconfig}
    else:
        import tinygrad_cpp as lib
        quantize_dynamic = lib.ao.quantization.quantize_dynamic
        qconfig = {lib.nn.Linear}
    use_isa(lib_name)
    lib.set_num_threads(threads)
    model = make_mlp(lib.nn) if kind == "mlp" else make_cnn(lib)
    model.load_state_dict({k: lib.from_numpy(v) for k, v in np.load(weights).items()})
    model.eval()
    qmodel = quantize_dynamic(model, qconfig, dtype=lib.qint8)
    xt = inputs(kind, xte)
    res = {"size_f": file_size(lib_name, lib, model.state_dict()),
           "size_q": file_size(lib_name, lib, qmodel.state_dict())}
    with lib.no_grad():
        if accuracy:
            for name, m in (("acc_f", model), ("acc_q", qmodel)):
                pred = np.concatenate([m(lib.from_numpy(xt[i:i + 1000])).argmax(1).numpy()
                                       for i in range(0, len(xt), 1000)])
                res[name] = float((pred == yte).mean())
        xb = lib.from_numpy(np.ascontiguousarray(xt[:256]))
        res["ms_f"] = median_ms(lambda: model(xb), repeat)
        res["ms_q"] = median_ms(lambda: qmodel(xb), repeat)
        if kind == "cnn":  # the quantized part alone: fc1 -> relu -> fc2 on the conv features
            F = lib.nn.functional
            feat = lib.flatten(F.max_pool2d(F.relu(model.conv2(F.relu(model.conv1(xb)))), 2), 1).contiguous()
            r = 4 * repeat
            res["ms_fc_f"] = median_ms(lambda: model.fc2(F.relu(model.fc1(feat))), r)
            res["ms_fc_q"] = median_ms(lambda: qmodel.fc2(F.relu(qmodel.fc1(feat))), r)
    if lib_name != "torch":
        res["qisa"] = lib._C._qgemm_isa()
        if not hasattr(lib, "int8"):  # weights saved as float32 until the int8 dtype is in the core
            res["int8_missing"] = True
            res["size_q"] -= sum(3 * v.numel() for k, v in qmodel.state_dict().items()
                                 if k.endswith("_packed_params.weight"))
    print(json.dumps(res))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--isa", nargs="+", default=["default", "avx2"])
    ap.add_argument("--repeat", type=int, default=20, help="timed calls per figure (CNN: a quarter)")
    ap.add_argument("--cnn-batches", type=int, default=300)
    ap.add_argument("--data-dir", default=os.environ.get("MNIST_DIR", DEFAULT_DATA))
    ap.add_argument("--worker", nargs=7, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        lib, threads, kind, weights, data_dir, repeat, acc = args.worker
        worker(lib, int(threads), kind, weights, data_dir, int(repeat), acc == "1")
        return 0
    libs = ["tinygrad_cpp"] + (["torch"] if torch_available() else [])
    with tempfile.TemporaryDirectory() as tmp:
        paths = train(args.data_dir, args.cnn_batches, tmp)
        for kind in ("mlp", "cnn"):
            repeat = args.repeat if kind == "mlp" else max(3, args.repeat // 4)
            print(f"\n== MNIST {kind.upper()}: batch 256 inference, medians of {repeat} calls "
                  "(ms; ratio = float / int8, above 1: int8 faster)")
            first = True
            for isa in args.isa:
                for threads in args.threads:
                    r = {lib: run_worker(__file__, lib, threads,
                                         [kind, paths[kind], args.data_dir, repeat, int(first)],
                                         isa=None if isa == "default" else isa) for lib in libs}
                    if first:
                        for lib, v in r.items():
                            print(f"  {lib:>12}: accuracy float {100 * v['acc_f']:.2f}%  int8 "
                                  f"{100 * v['acc_q']:.2f}%  (drop {100 * (v['acc_f'] - v['acc_q']):.2f} points); "
                                  f"state dict {v['size_f'] / 1e6:.2f} MB -> {v['size_q'] / 1e6:.2f} MB "
                                  f"({v['size_f'] / v['size_q']:.2f}x smaller)"
                                  + (" [projected: this build has no int8 dtype, so tg.save wrote the int8 weights"
                                     " as float32; size given as if 1 byte each]" if v.get("int8_missing") else ""))
                        print(f"  {'isa (int8 kernel)':>20} {'thr':>3} | {'tg f32':>8} {'tg int8':>8} {'ratio':>6} | "
                              f"{'torch f32':>9} {'int8':>8} {'ratio':>6} | {'tg/torch int8':>13}")
                        first = False
                    t, th = r["tinygrad_cpp"], r.get("torch")
                    tail = (f"{th['ms_f']:>9.3f} {th['ms_q']:>8.3f} {th['ms_f'] / th['ms_q']:>6.2f} | "
                            f"{t['ms_q'] / th['ms_q']:>13.2f}") if th else "n/a"
                    print(f"  {isa + ' (' + t['qisa'] + ')':>20} {threads:>3} | {t['ms_f']:>8.3f} {t['ms_q']:>8.3f} "
                          f"{t['ms_f'] / t['ms_q']:>6.2f} | {tail}", flush=True)
                    if "ms_fc_f" in t:
                        tail = (f"{th['ms_fc_f']:>9.3f} {th['ms_fc_q']:>8.3f} {th['ms_fc_f'] / th['ms_fc_q']:>6.2f} | "
                                f"{t['ms_fc_q'] / th['ms_fc_q']:>13.2f}") if th else "n/a"
                        print(f"  {'  fc1+fc2 only':>20} {threads:>3} | {t['ms_fc_f']:>8.3f} {t['ms_fc_q']:>8.3f} "
                              f"{t['ms_fc_f'] / t['ms_fc_q']:>6.2f} | {tail}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
