# The first audit of argument types (torch vs tinygrad_cpp); tests/test_arg_types.py is the full table.
# Run: PYTHONPATH=python python dev/strict_audit.py
import numpy as np
import torch, tinygrad_cpp as tg
cases = {
 "relu str": lambda m: m.nn.functional.relu('a'),
 "maximum float": lambda m: m.maximum(m.ones(2), 1.0),
 "sum dict dim": lambda m: m.ones(2).sum({'a':1}),
 "sum float dim": lambda m: m.ones(2).sum(0.5),
 "requires_grad int": lambda m: m.ones(2, requires_grad=1),
 "requires_grad str": lambda m: m.tensor([1.0], requires_grad='yes'),
 "inf into int": lambda m: m.tensor([float('inf')], dtype=m.int64),
 "nan into int": lambda m: m.tensor([float('nan')], dtype=m.int64),
 "full inf int": lambda m: m.full((2,), float('inf'), dtype=m.int64),
 "fill_ nan int": lambda m: m.zeros(2, dtype=m.int64).fill_(float('nan')),
 "add str": lambda m: m.ones(2) + 'a',
 "add None": lambda m: m.add(m.ones(2), None),
 "mul list": lambda m: m.ones(2) * [1, 2],
 "softmax str dim": lambda m: m.ones(2).softmax('a'),
 "reshape float": lambda m: m.ones(4).reshape(2.0, 2),
 "view str": lambda m: m.ones(4).view('a'),
 "zeros float": lambda m: m.zeros(2.5),
 "zeros None": lambda m: m.zeros(None),
 "arange str": lambda m: m.arange('a'),
 "linear str": lambda m: m.nn.functional.linear(m.ones(2), 'a'),
 "cross_entropy str": lambda m: m.nn.functional.cross_entropy('a', m.ones(2)),
 "transpose float": lambda m: m.ones(2,2).transpose(0.0, 1),
 "index float": lambda m: m.ones(3)[1.5],
 "cat non-list": lambda m: m.cat(m.ones(2)),
 "clamp str": lambda m: m.ones(2).clamp('a'),
 "pow str": lambda m: m.ones(2).pow('a'),
 "where float cond": lambda m: m.where(m.ones(2), m.ones(2), m.ones(2)),
 "matmul scalar": lambda m: m.matmul(m.ones(2), 2),
 "to str": lambda m: m.ones(2).to('foo'),
 "unsqueeze float": lambda m: m.ones(2).unsqueeze(0.5),
 "mean int tensor": lambda m: m.ones(2, dtype=m.int64).mean(),
 "tensor dict": lambda m: m.tensor({'a': 1}),
 "randn float": lambda m: m.randn(2.0),
 "dropout p str": lambda m: m.nn.functional.dropout(m.ones(2), 'a'),
 "Linear float": lambda m: m.nn.Linear(2.5, 3),
 "conv str": lambda m: m.nn.Conv2d('a', 3, 3),
 "expand float": lambda m: m.ones(1).expand(2.0),
 "sum keepdim str": lambda m: m.ones(2).sum(0, keepdim='a'),
 "argmax dim float": lambda m: m.ones(2).argmax(0.0),
 "max_pool str": lambda m: m.nn.functional.max_pool2d(m.ones(1,1,4,4), 'a'),
 "bn str": lambda m: m.nn.functional.batch_norm('a', None, None),
}
for k, f in cases.items():
    res = []
    for m in (torch, tg):
        try:
            f(m); res.append("ok")
        except Exception as e:
            res.append(type(e).__name__)
    flag = "" if res[0] == res[1] else "   <-- MISMATCH"
    print(f"{k:22s} torch={res[0]:18s} tg={res[1]:18s}{flag}")
