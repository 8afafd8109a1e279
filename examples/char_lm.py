"""A character-level language model on tinyshakespeare, written as one writes it for
PyTorch (then `torch` -> `tinygrad_cpp`):

  * `--model gpt` (default): a small GPT in the minGPT/nanoGPT style: token + position
    embeddings, 4 pre-LayerNorm blocks of causal self-attention (one Linear for q, k, v and
    F.scaled_dot_product_attention(is_causal=True)) and a 4x GELU MLP, d_model 128, 4 heads,
    context 128, a final LayerNorm and a Linear head; AdamW (lr 2e-3, weight decay 0.1 on
    the Linear weights only: biases, LayerNorm and embeddings are not decayed, as minGPT
    does), batch 32, gradient clipping at 1.0, the learning rate warmed up over 100 steps
    then decayed on a cosine to a tenth by the end of the run. Reaches a validation loss of
    1.55 nats/char in 8 minutes on 2 cores (`--max-minutes 8`: about 2,400 steps).
  * `--model lstm`: Embedding -> 2-layer nn.LSTM (hidden 256) -> Linear, trained with
    truncated backpropagation through time: the batch is 32 contiguous streams of the text,
    read in consecutive chunks of --block-size characters, the hidden state carried from
    one chunk to the next and detached.

    python examples/char_lm.py --model gpt --max-minutes 8
    python examples/char_lm.py --model lstm --steps 2000 --save lstm.safetensors

Training stops after --steps steps or --max-minutes minutes, whichever comes first; every
--eval-interval steps it prints the validation loss (nats per character on the last 10%
of the text), and at the end it samples --sample-len characters (--temperature, --top-k:
tg.topk + F.softmax + tg.multinomial) and prints them. --data-dir is the folder of
tinyshakespeare's input.txt (default: $TINYSHAKESPEARE_DIR, else
shared/data/tinyshakespeare beside the checkout, else ./data/tinyshakespeare)."""
import argparse
import hashlib
import math
import os
import time

import numpy as np
from tqdm import tqdm

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn
import tinygrad_cpp.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"


# -- the models ---------------------------------------------------------------------------

class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd, n_head, dropout):
        super().__init__()
        assert n_embd % n_head == 0
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)  # q, k, v for all heads in one product
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.resid_dropout = nn.Dropout(dropout)
        self.n_head = n_head
        self.dropout = dropout

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0,
                                           is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # the heads side by side again
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, n_embd, dropout):
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * n_embd, n_embd)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, n_embd, n_head, dropout):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = MLP(n_embd, dropout)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class GPT(nn.Module):
    def __init__(self, vocab_size, block_size=128, n_layer=4, n_head=4, n_embd=128, dropout=0.0):
        super().__init__()
        self.block_size = block_size
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.drop = nn.Dropout(dropout)
        self.h = nn.ModuleList([Block(n_embd, n_head, dropout) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        # GPT-2's initialisation: N(0, 0.02), the residual projections scaled by 1/sqrt(2 n_layer)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets=None):
        B, T = idx.size()
        assert T <= self.block_size, f"a sequence of {T} exceeds the context of {self.block_size}"
        pos = tg.arange(0, T, dtype=tg.long)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return logits, loss

    def configure_optimizers(self, lr, weight_decay, betas=(0.9, 0.99)):
        # minGPT's split: decay the Linear weights, not biases, LayerNorm or embeddings
        decay = [p for n, p in self.named_parameters() if p.dim() >= 2 and not n.startswith(("wte", "wpe"))]
        no_decay = [p for n, p in self.named_parameters() if not (p.dim() >= 2 and not n.startswith(("wte", "wpe")))]
        groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        return tg.optim.AdamW(groups, lr=lr, betas=betas)

    @tg.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, state=None):
        for _ in range(max_new_tokens):
            idx_cond = idx if idx.size(1) <= self.block_size else idx[:, -self.block_size:]
            logits, _ = self(idx_cond)
            idx_next = sample_next(logits[:, -1, :], temperature, top_k)
            idx = tg.cat((idx, idx_next), dim=1)
        return idx


class CharLSTM(nn.Module):
    def __init__(self, vocab_size, hidden_size=256, num_layers=2, dropout=0.0):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, hidden_size)
        self.lstm = nn.LSTM(hidden_size, hidden_size, num_layers=num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, idx, targets=None, state=None):
        out, state = self.lstm(self.embed(idx), state)
        logits = self.head(out)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return logits, loss, state

    def configure_optimizers(self, lr, weight_decay, betas=(0.9, 0.99)):
        return tg.optim.AdamW(self.parameters(), lr=lr, betas=betas, weight_decay=weight_decay)

    @tg.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, state=None):
        logits, _, state = self(idx, state=state)  # read the prompt
        for _ in range(max_new_tokens):
            idx_next = sample_next(logits[:, -1, :], temperature, top_k)
            idx = tg.cat((idx, idx_next), dim=1)
            logits, _, state = self(idx_next, state=state)
        return idx


def sample_next(logits, temperature=1.0, top_k=None):
    """One character per row from the last position's logits: scaled by 1/temperature,
    cut to the top_k most likely, softmax, multinomial."""
    logits = logits / temperature
    if top_k is not None:
        v, _ = tg.topk(logits, min(top_k, logits.size(-1)))
        logits[logits < v[:, [-1]]] = -float("Inf")
    probs = F.softmax(logits, dim=-1)
    return tg.multinomial(probs, num_samples=1)


# -- the data -----------------------------------------------------------------------------

def default_data_dir():
    if os.environ.get("TINYSHAKESPEARE_DIR"):
        return os.environ["TINYSHAKESPEARE_DIR"]
    shared = os.path.join(os.path.dirname(REPO), "shared", "data", "tinyshakespeare")
    return shared if os.path.isdir(shared) else os.path.join(REPO, "data", "tinyshakespeare")


class CharData:
    """The text as int64 codes, the vocabulary sorted, the first 90% for training."""

    def __init__(self, path, limit_chars=0):
        with open(path, "rb") as f:
            raw = f.read()
        if not limit_chars and hashlib.sha256(raw).hexdigest() != SHA256:
            print(f"warning: {path} is not tinyshakespeare's input.txt (sha256 differs)")
        text = raw.decode("utf-8")
        self.chars = sorted(set(text))  # the vocabulary of the whole text
        if limit_chars:
            text = text[:limit_chars]
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}
        data = np.array([self.stoi[c] for c in text], dtype=np.int64)
        n = int(0.9 * len(data))
        self.train, self.val = data[:n], data[n:]

    @property
    def vocab_size(self):
        return len(self.chars)

    def encode(self, s):
        return [self.stoi[c] for c in s]

    def decode(self, codes):
        return "".join(self.chars[i] for i in codes)


def random_batch(data, batch_size, block_size, rng):
    """batch_size windows at random offsets: inputs and the same shifted by one."""
    ix = rng.integers(0, len(data) - block_size - 1, size=batch_size)
    x = np.stack([data[i:i + block_size] for i in ix])
    y = np.stack([data[i + 1:i + 1 + block_size] for i in ix])
    return tg.from_numpy(x), tg.from_numpy(y)


class Streams:
    """Truncated BPTT: the text cut into batch_size contiguous streams, read chunk after chunk."""

    def __init__(self, data, batch_size, block_size):
        self.block_size = block_size
        n = (len(data) - 1) // batch_size
        self.x = np.stack([data[b * n:(b + 1) * n] for b in range(batch_size)])
        self.y = np.stack([data[b * n + 1:(b + 1) * n + 1] for b in range(batch_size)])
        self.chunks = n // block_size
        self.pos = 0

    def next(self):
        """The next chunk and whether it starts the streams over (a fresh hidden state)."""
        if self.pos >= self.chunks:
            self.pos = 0
        i, self.pos = self.pos * self.block_size, self.pos + 1
        sl = slice(i, i + self.block_size)
        return tg.from_numpy(self.x[:, sl].copy()), tg.from_numpy(self.y[:, sl].copy()), i == 0


def detach_state(state):
    return None if state is None else tuple(s.detach() for s in state)


@tg.no_grad()
def estimate_val_loss(model, data, args):
    """Mean cross entropy (nats/char) on the validation split: args.eval_iters batches, the
    same ones every time (GPT: windows at fixed random offsets; LSTM: consecutive chunks of
    the validation streams with the state carried)."""
    model.eval()
    losses = []
    if args.model == "gpt":
        rng = np.random.default_rng(1234)
        for _ in range(args.eval_iters):
            x, y = random_batch(data.val, args.batch_size, args.block_size, rng)
            losses.append(model(x, y)[1].item())
    else:
        streams, state = Streams(data.val, args.batch_size, args.block_size), None
        for _ in range(min(args.eval_iters, streams.chunks)):
            x, y, _ = streams.next()
            _, loss, state = model(x, y, state)
            losses.append(loss.item())
    model.train()
    return float(np.mean(losses))


# -- training -----------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description="Character-level language model on tinyshakespeare")
    parser.add_argument("--model", choices=["gpt", "lstm"], default="gpt")
    parser.add_argument("--data-dir", default=default_data_dir(), help="the folder of input.txt")
    parser.add_argument("--steps", type=int, default=5000, help="training steps at most (default: 5000)")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop training after this many minutes")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--block-size", type=int, default=128, help="context length (BPTT chunk for lstm)")
    parser.add_argument("--n-layer", type=int, default=4)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--n-embd", type=int, default=128)
    parser.add_argument("--hidden-size", type=int, default=256, help="LSTM hidden size")
    parser.add_argument("--num-layers", type=int, default=2, help="LSTM layers")
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    parser.add_argument("--warmup-steps", type=int, default=None,
                        help="linear warmup to --lr over this many steps (default: 100, at most --steps / 10)")
    parser.add_argument("--min-lr-ratio", type=float, default=0.1,
                        help="cosine decay to lr * this at the end of training (1: constant lr)")
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--grad-clip", type=float, default=1.0, help="clip the gradient norm (0: off)")
    parser.add_argument("--eval-interval", type=int, default=250)
    parser.add_argument("--eval-iters", type=int, default=20, help="validation batches per evaluation")
    parser.add_argument("--sample-len", type=int, default=500, help="characters to sample at the end")
    parser.add_argument("--prompt", default="\n", help="text the sample starts from")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--save", default=None, help="write the model's state_dict here at the end")
    parser.add_argument("--load", default=None, help="start from this state_dict")
    parser.add_argument("--limit-chars", type=int, default=0, help="use only the first N characters of the text")
    parser.add_argument("--threads", type=int, default=None, help="threads (default: all CPUs)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    tg.manual_seed(args.seed)
    if args.threads:
        tg.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)

    data = CharData(os.path.join(args.data_dir, "input.txt"), args.limit_chars)
    if args.model == "gpt":
        model = GPT(data.vocab_size, args.block_size, args.n_layer, args.n_head, args.n_embd, args.dropout)
    else:
        model = CharLSTM(data.vocab_size, args.hidden_size, args.num_layers, args.dropout)
    if args.load:
        model.load_state_dict(tg.load(args.load))
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{args.model}: {n_params / 1e3:.0f}k parameters, vocabulary {data.vocab_size}, "
          f"{len(data.train):,} training / {len(data.val):,} validation characters", flush=True)
    optimizer = model.configure_optimizers(args.lr, args.weight_decay)
    start, cpu_start = time.perf_counter(), time.process_time()
    deadline = start + 60 * args.max_minutes if args.max_minutes else math.inf

    warmup = min(100, args.steps // 10) if args.warmup_steps is None else args.warmup_steps

    def lr_factor(step):
        """Linear warmup, then a cosine from 1 to --min-lr-ratio over the run. The run ends
        at --steps or at the --max-minutes deadline, whichever comes first, so its progress
        is the larger of the two fractions: on a slower machine the decay still completes."""
        if step < warmup:
            return (step + 1) / warmup
        done = (step - warmup) / max(1, args.steps - warmup)
        if args.max_minutes:
            done = max(done, (time.perf_counter() - start) / (deadline - start))
        return args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, done)))
    scheduler = tg.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)

    streams = Streams(data.train, args.batch_size, args.block_size) if args.model == "lstm" else None
    state = None
    history = []  # (step, training loss)
    val_history = []  # (step, validation loss)
    model.train()
    step, elapsed = 0, 0.0
    bar = tqdm(range(1, args.steps + 1), unit="step", disable=args.quiet)
    for step in bar:
        if args.model == "gpt":
            x, y = random_batch(data.train, args.batch_size, args.block_size, rng)
            _, loss = model(x, y)
        else:
            x, y, restart = streams.next()
            _, loss, state = model(x, y, None if restart else detach_state(state))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if args.grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        optimizer.step()
        scheduler.step()
        history.append((step, loss.item()))
        if step % 10 == 0:
            bar.set_postfix(loss=f"{history[-1][1]:.4f}")
        last = step == args.steps or time.perf_counter() >= deadline
        if step % args.eval_interval == 0 or last:
            val = estimate_val_loss(model, data, args)
            val_history.append((step, val))
            elapsed = time.perf_counter() - start
            msg = f"step {step}: train loss {loss.item():.4f}, val loss {val:.4f} ({elapsed:.0f} s)"
            bar.write(msg) if not args.quiet else print(msg, flush=True)
        if last:
            break
    bar.close()
    elapsed = time.perf_counter() - start
    if step:  # the CPU time of all threads, evaluations included: on a busy machine it moves less
        cpu = time.process_time() - cpu_start
        print(f"trained {step} steps in {elapsed:.1f} s ({step / elapsed:.2f} steps/s; {cpu:.1f} s of CPU time)",
              flush=True)

    if args.save:
        tg.save(model.state_dict(), args.save)

    sample = ""
    if args.sample_len > 0:
        model.eval()
        prompt = data.encode(args.prompt) or [0]
        idx = tg.tensor([prompt], dtype=tg.long)
        out = model.generate(idx, args.sample_len, temperature=args.temperature, top_k=args.top_k)
        sample = data.decode(out[0, len(prompt):].tolist())
        print("-" * 40 + " sample " + "-" * 40)
        print(sample, flush=True)
    return {"train": history, "val": val_history, "sample": sample, "model": model, "steps_per_s": step / elapsed if step else 0.0}


if __name__ == "__main__":
    main()
