"""Saliency maps (Simonyan, Vedaldi and Zisserman, 2014): which pixels of a digit move the
score of the class the CNN predicts? The gradient of that score with respect to the input
image answers it, one backward pass per batch. Saves the test digits (top row) above
their saliency maps (bottom row) as one PNG.

    python examples/mnist_cnn.py --epochs 1 --save-model   # writes mnist_cnn.pt
    python examples/saliency.py [--model mnist_cnn.pt] [--count 10] [--out saliency.png]

Without a saved model it first trains the CNN for --train-batches batches (a minute on
two cores). Needs Pillow for the PNG: pip install "tinygrad_cpp[vision]"."""
import argparse
import os

import tinygrad_cpp as tg
import tinygrad_cpp.nn.functional as F
from tinygrad_cpp.vision import datasets, transforms
from tinygrad_cpp.vision.utils import make_grid, save_image

from mnist_cnn import Net, default_data_dir

MEAN, STD = 0.1307, 0.3081


def train_briefly(model, data_dir, batches, seed=1):
    tg.manual_seed(seed)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))])
    loader = tg.utils.data.DataLoader(datasets.MNIST(data_dir, train=True, download=True, transform=transform),
                                      batch_size=64, shuffle=True)
    opt = tg.optim.Adadelta(model.parameters(), lr=1.0)
    model.train()
    for i, (x, y) in enumerate(loader):
        if i == batches:
            break
        opt.zero_grad()
        F.nll_loss(model(x), y).backward()
        opt.step()


def saliency(model, images):
    """|d score[predicted class] / d pixel| for each image of a [N, 1, H, W] batch, and the
    predicted classes."""
    model.eval()
    x = images.detach().clone().requires_grad_(True)
    scores = model(x)  # log-probabilities; their gradient is the logit's less the softmax's
    pred = scores.argmax(dim=1)
    scores.gather(1, pred.view(-1, 1)).sum().backward()
    return x.grad.abs(), pred


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="mnist_cnn.pt", help="state dict saved by mnist_cnn.py --save-model")
    ap.add_argument("--train-batches", type=int, default=300, help="batches to train when there is no --model")
    ap.add_argument("--count", type=int, default=10, help="test digits to explain")
    ap.add_argument("--out", default="saliency.png")
    ap.add_argument("--data-dir", default=default_data_dir())
    args = ap.parse_args(argv)

    model = Net()
    if os.path.exists(args.model):
        model.load_state_dict(tg.load(args.model))
        print(f"loaded {args.model}")
    else:
        print(f"no {args.model}: training for {args.train_batches} batches first")
        train_briefly(model, args.data_dir, args.train_batches)

    test = datasets.MNIST(args.data_dir, train=False, download=True,
                          transform=transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))]))
    images = tg.stack([test[i][0] for i in range(args.count)])
    labels = [test[i][1] for i in range(args.count)]
    maps, pred = saliency(model, images)

    # each map scaled to [0, 1] on its own; the digits back to their [0, 1] pixels
    flat = maps.view(args.count, -1)
    maps = (flat / flat.max(dim=1, keepdim=True).values.clamp(min=1e-12)).view_as(maps)
    digits = (images * STD + MEAN).clamp(0, 1)
    save_image(make_grid(tg.cat([digits, maps]), nrow=args.count, padding=2, pad_value=1.0), args.out)
    print("labels:     ", " ".join(map(str, labels)))
    print("predictions:", " ".join(str(p) for p in pred.tolist()))
    print(f"wrote {args.out}: digits above, saliency below")
    return maps, pred, labels


if __name__ == "__main__":
    main()
