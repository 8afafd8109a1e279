"""One training step of examples/char_lm.py's GPT (4 blocks, d_model 128, 4 heads, vocabulary
65; token + position embeddings, LayerNorm, causal scaled_dot_product_attention, GELU MLP,
cross entropy, clip_grad_norm_ 1.0, AdamW) at batch 32 and context 64, tinygrad_cpp beside
PyTorch 2.13:

    python bench/gpt.py [--threads 1 2] [--repeat 5] [--steps 20] [--isa avx2] [--context 64]

Each run is a fresh subprocess per library with the same numpy-drawn weights and batches.
Printed per thread count: the median wall ms per step and the median CPU ms per step (the
process's CPU time, all threads: on a busy machine it moves less than the wall time; at one
thread it is the step's cost), medians over --repeat runs; ratio = tinygrad_cpp / PyTorch
(below 1 is faster)."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

BATCH, VOCAB = 32, 65


def build(lib, context, n_layer=4, n_head=4, n_embd=128):
    nn, F = lib.nn, lib.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(n_embd)
            self.c_attn = nn.Linear(n_embd, 3 * n_embd)
            self.c_proj = nn.Linear(n_embd, n_embd)
            self.ln_2 = nn.LayerNorm(n_embd)
            self.c_fc = nn.Linear(n_embd, 4 * n_embd)
            self.mlp_proj = nn.Linear(4 * n_embd, n_embd)

        def forward(self, x):
            B, T, C = x.size()
            q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
            q = q.view(B, T, n_head, C // n_head).transpose(1, 2)
            k = k.view(B, T, n_head, C // n_head).transpose(1, 2)
            v = v.view(B, T, n_head, C // n_head).transpose(1, 2)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))
            return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(VOCAB, n_embd)
            self.wpe = nn.Embedding(context, n_embd)
            self.h = nn.ModuleList([Block() for _ in range(n_layer)])
            self.ln_f = nn.LayerNorm(n_embd)
            self.lm_head = nn.Linear(n_embd, VOCAB, bias=False)

        def forward(self, idx, targets):
            B, T = idx.size()
            x = self.wte(idx) + self.wpe(lib.arange(0, T, dtype=lib.long))
            for block in self.h:
                x = block(x)
            logits = self.lm_head(self.ln_f(x))
            return F.cross_entropy(logits.view(-1, VOCAB), targets.view(-1))

    model = GPT()
    rng = np.random.default_rng(0)
    with lib.no_grad():  # one starting point for both libraries
        for name, p in model.named_parameters():
            if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight":
                arr = np.ones(tuple(p.shape), np.float32)
            else:
                arr = (0.02 * rng.standard_normal(tuple(p.shape))).astype(np.float32)
            p.copy_(lib.from_numpy(arr))
    return model


def worker(lib_name, threads, steps, context):
    lib = __import__("torch" if lib_name == "torch" else "tinygrad_cpp")
    lib.set_num_threads(threads)
    lib.manual_seed(0)
    model = build(lib, context)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and not n.startswith(("wte", "wpe"))]
    rest = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and not n.startswith(("wte", "wpe")))]
    opt = lib.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                          lr=2e-3, betas=(0.9, 0.99))
    rng = np.random.default_rng(1)
    text = rng.integers(0, VOCAB, size=100_000)
    batches = []
    for _ in range(8):
        ix = rng.integers(0, len(text) - context - 1, size=BATCH)
        x = np.stack([text[i:i + context] for i in ix])
        y = np.stack([text[i + 1:i + 1 + context] for i in ix])
        batches.append((lib.from_numpy(x), lib.from_numpy(y)))

    def step(i=[0]):
        x, y = batches[i[0] % len(batches)]
        i[0] += 1
        opt.zero_grad(set_to_none=True)
        loss = model(x, y)
        loss.backward()
        lib.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    for _ in range(3):  # warm up: allocator, pool, packed buffers
        step()
    wall, cpu = [], []
    for _ in range(steps):
        t, c = time.perf_counter(), time.process_time()
        step()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - t)
    print(json.dumps({"step_ms": 1e3 * statistics.median(wall), "cpu_ms": 1e3 * statistics.median(cpu),
                      "loss": step()}))


def measure(lib, threads, args):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    if args.isa == "avx2" and lib == "torch":  # PyTorch on its AVX2 kernels too: oneDNN, ATen, MKL
        env.update(ONEDNN_MAX_CPU_ISA="AVX2", ATEN_CPU_CAPABILITY="avx2", MKL_ENABLE_INSTRUCTIONS="AVX2")
    out = subprocess.run([sys.executable, __file__, "--worker", lib, str(threads), str(args.steps), str(args.context)],
                         capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{lib} worker failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20, help="timed steps inside each run")
    ap.add_argument("--context", type=int, default=64)
    ap.add_argument("--isa", choices=["avx512", "avx2", "portable"],
                    help="force tinygrad_cpp's kernels (avx2: PyTorch's oneDNN, ATen and MKL too)")
    ap.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.isa:
        os.environ["TG_ISA"] = args.isa
    if args.worker:
        lib, threads, steps, context = args.worker
        if lib != "torch" and os.environ.get("TG_ISA"):
            import tinygrad_cpp as tg
            tg._C._set_gemm_isa(os.environ["TG_ISA"])
            tg._C._set_vec_isa(os.environ["TG_ISA"])
        worker(lib, int(threads), int(steps), int(context))
        return 0
    try:
        import torch  # noqa: F401
        libs = ["tinygrad_cpp", "torch"]
    except ImportError:
        libs = ["tinygrad_cpp"]
    print(f"char_lm GPT (4 x 128, 4 heads), batch {BATCH}, context {args.context}, AdamW + clipping; "
          f"medians of {args.repeat} runs x {args.steps} steps" + (f"; tinygrad_cpp on {args.isa}" if args.isa else ""))
    print(f"{'thr':>3} | {'tg ms/step':>10} {'torch':>7} {'ratio':>5} | {'tg CPU ms':>9} {'torch':>7} {'ratio':>5} |"
          f" {'tg loss':>7} {'torch':>7}")
    for threads in args.threads:
        res = {lib: [measure(lib, threads, args) for _ in range(args.repeat)] for lib in libs}
        med = {lib: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for lib, runs in res.items()}
        tg_, th = med["tinygrad_cpp"], med.get("torch")
        f = (lambda k, fmt: format(th[k], fmt)) if th else (lambda k, fmt: "n/a")
        r = (lambda k: format(tg_[k] / th[k], ".2f")) if th else (lambda k: "n/a")
        print(f"{threads:>3} | {tg_['step_ms']:>10.1f} {f('step_ms', '.1f'):>7} {r('step_ms'):>5} | "
              f"{tg_['cpu_ms']:>9.1f} {f('cpu_ms', '.1f'):>7} {r('cpu_ms'):>5} | {tg_['loss']:>7.4f} "
              f"{f('loss', '.4f'):>7}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
