"""Exports a model to ONNX with a dynamic batch axis and checks it in onnxruntime:

    pip install 'tinygrad_cpp[onnx]' onnxruntime
    python examples/export_onnx.py --model cnn --out mnist_cnn.onnx [--weights mnist_cnn.pt]

--model mlp / cnn: the MNIST models of mnist_mlp.py / mnist_cnn.py; gpt / lstm: the char
models of char_lm.py (vocabulary 65, tinyshakespeare's). --weights loads a state dict
saved by those scripts (tg.save). The exported graph is checked with onnx.checker and run
in onnxruntime (when installed) at batch 1 and 64 against our own forward."""
import argparse
import os
import sys

import numpy as np

import tinygrad_cpp as tg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def make(kind):
    """(model, example input, input name, output names, dynamic axes)"""
    if kind in ("mlp", "cnn"):
        if kind == "mlp":
            from mnist_mlp import MLP as Model
        else:
            from mnist_cnn import Net as Model
        x = tg.randn(4, 1, 28, 28)
        return Model(), x, ["image"], ["logits"], {"image": {0: "batch"}, "logits": {0: "batch"}}
    import char_lm
    idx = tg.randint(0, 65, (4, 64))
    if kind == "gpt":
        return (char_lm.GPT(65), idx, ["idx"], ["logits"], {"idx": {0: "batch"}, "logits": {0: "batch"}})
    return (char_lm.CharLSTM(65), idx, ["idx"], ["logits", "h_n", "c_n"],
            {"idx": {0: "batch"}, "logits": {0: "batch"}, "h_n": {1: "batch"}, "c_n": {1: "batch"}})


def flat(out):
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in flat(o)]
    return [] if out is None else [out]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=["mlp", "cnn", "gpt", "lstm"], default="cnn")
    p.add_argument("--out", default="model.onnx")
    p.add_argument("--weights", help="a state dict saved with tg.save (optional)")
    p.add_argument("--opset", type=int, default=17)
    args = p.parse_args(argv)

    model, x, in_names, out_names, dyn = make(args.model)
    if args.weights:
        model.load_state_dict(tg.load(args.weights))
    model.eval()
    tg.onnx.export(model, (x,), args.out, input_names=in_names, output_names=out_names,
                   dynamic_axes=dyn, opset_version=args.opset)
    import onnx
    onnx.checker.check_model(onnx.load(args.out), full_check=True)
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 1e6:.2f} MB), onnx.checker: ok")
    try:
        import onnxruntime as ort
    except ImportError:
        print("onnxruntime is not installed: skipping the comparison")
        return
    sess = ort.InferenceSession(args.out, providers=["CPUExecutionProvider"])
    for batch in (1, 64):
        xb = tg.randint(0, 65, (batch, x.shape[1])) if x.dtype == tg.int64 else tg.randn(batch, *x.shape[1:])
        got = sess.run(None, {in_names[0]: xb.numpy()})
        with tg.no_grad():
            want = [t.numpy() for t in flat(model(xb))]
        err = max(float(np.max(np.abs(g - w))) for g, w in zip(got, want))
        print(f"batch {batch}: onnxruntime vs tinygrad_cpp, max abs difference {err:.2e}")


if __name__ == "__main__":
    main()
