#!/usr/bin/python3
"""PyTorch side of `npm run bench`: the runner's models, architecturally identical (same
parameter counts, printed), trained with Adam on the same samples the runner trains on (read from
the files bench/run.ts writes), batch 128, on the thread count the runner uses. Prints one JSON
line: samples/s over the measured epochs, parameter count, peak RSS (VmHWM). With --inference: the
model's logits of the samples in eval mode under torch.no_grad() (the teacher-logits pass the
runner makes), samples/s of the second of two passes.

Run it through `npm run bench` (which loads OpenBLAS for this process only via LD_LIBRARY_PATH);
alone: /usr/bin/python3 bench/torch_bench.py --model cnn --threads 2 --data .bench-cache/mnist ...
"""
import argparse
import json
import time

import numpy as np
import torch
from torch import nn


def cnn():
    # conv3x3(32) relu conv3x3(64) relu maxpool2 flatten dense(128) relu dense(10): 1,199,882 params
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(9216, 128), nn.ReLU(), nn.Linear(128, 10))


def mlp():
    # flatten dense(32) relu dense(10): 25,450 params
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)
        self.proj = None
        if stride != 1 or cin != cout:
            self.proj = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + (self.proj(x) if self.proj is not None else x))


class ResNet(nn.Module):
    """CIFAR-style ResNet, depth 6n+2 (runner/models/buildModel.ts): 3x3 stem, three stages of n
    basic blocks (w, 2w, 4w; stride 2 at stages 2 and 3, 1x1 projection shortcuts), GAP, dense.
    (TF 'same' pads a stride-2 3x3 conv (0,1), PyTorch (1,1): same shapes, FLOPs and parameters.)"""

    def __init__(self, depth=8, width=16, classes=10):
        super().__init__()
        n = (depth - 2) // 6
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width, eps=1e-5, momentum=0.1), nn.ReLU())
        blocks, cin = [], width
        for stage in range(3):
            cout = width * 2 ** stage
            for b in range(n):
                blocks.append(Block(cin, cout, 2 if stage > 0 and b == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(x.mean(dim=(2, 3)))


def peak_rss_mib():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024
    return float('nan')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', choices=['cnn', 'resnet8', 'mlp'], required=True)
    ap.add_argument('--threads', type=int, required=True)
    ap.add_argument('--data', required=True, help='prefix of the .x.f32/.y.i32/.t.f32 files')
    ap.add_argument('--n', type=int, required=True)
    ap.add_argument('--shape', required=True, help='H,W,C')
    ap.add_argument('--epochs', type=int, default=3, help='the first is warm-up, the rest are measured')
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--phi', type=float, default=0.5)
    ap.add_argument('--inference', action='store_true',
                    help="the model's logits of the samples (eval mode, torch.no_grad()), twice; the second pass counts")
    ap.add_argument('--eval-batch', type=int, default=1000)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    h, w, c = (int(v) for v in a.shape.split(','))
    x = np.fromfile(a.data + '.x.f32', dtype=np.float32)[: a.n * h * w * c].reshape(a.n, h, w, c)
    x = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))  # NHWC (runner) -> NCHW
    y = torch.from_numpy(np.fromfile(a.data + '.y.i32', dtype=np.int32)[: a.n].astype(np.int64))
    model = {'cnn': cnn, 'mlp': mlp, 'resnet8': ResNet}[a.model]()
    # Counted as Keras' countParams does (the runner's figure): weights plus BatchNorm moving statistics.
    trainable = sum(p.numel() for p in model.parameters())
    params = trainable + sum(b.numel() for name, b in model.named_buffers() if name.endswith(('running_mean', 'running_var')))
    if a.inference:
        model.eval()

        def logits_pass():
            t0 = time.perf_counter()
            with torch.no_grad():
                out = torch.empty(a.n, 10)
                for s in range(0, a.n, a.eval_batch):
                    out[s:s + a.eval_batch] = model(x[s:s + a.eval_batch])
            return a.n / (time.perf_counter() - t0)

        first = logits_pass()
        steady = logits_pass()
        print(json.dumps({'side': 'pytorch', 'mode': 'inference', 'model': a.model, 'threads': torch.get_num_threads(),
                          'params': params, 'samplesPerSecond': steady, 'firstPassSamplesPerSecond': first,
                          'evalBatchSize': a.eval_batch, 'peakRssMiB': peak_rss_mib(), 'torch': torch.__version__,
                          'blas': blas_name()}))
        return
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    teacher = None
    if a.model == 'mlp':
        teacher = torch.from_numpy(np.fromfile(a.data + '.t.f32', dtype=np.float32)[: a.n * 10].reshape(a.n, 10))
        mse = nn.MSELoss()
    ce = nn.CrossEntropyLoss()
    model.train()
    marks = []
    for epoch in range(a.epochs):
        # Same shuffling idea as the runner: a fixed permutation per epoch.
        order = torch.from_numpy(np.random.default_rng(epoch).permutation(a.n))
        seen = 0
        correct = 0
        for s in range(0, a.n, a.batch):
            idx = order[s:s + a.batch]
            xb, yb = x[idx], y[idx]
            opt.zero_grad(set_to_none=True)
            logits = model(xb)
            loss = mse(logits, a.phi * teacher[idx]) if teacher is not None else ce(logits, yb)
            loss.backward()
            opt.step()
            # The runner reads the loss and the correct count every step: so do we.
            _ = loss.item()
            correct += int((logits.argmax(1) == yb).sum())
            seen += len(idx)
        marks.append(time.perf_counter())
    measured = a.n * (a.epochs - 1)
    sps = measured / (marks[-1] - marks[0])
    print(json.dumps({'side': 'pytorch', 'model': a.model, 'threads': torch.get_num_threads(), 'params': params, 'trainableParams': trainable,
                      'samplesPerSecond': sps, 'peakRssMiB': peak_rss_mib(), 'torch': torch.__version__,
                      'blas': blas_name()}))


def blas_name():
    try:
        with open('/proc/self/maps') as f:
            for line in f:
                if 'openblas' in line:
                    return 'openblas'
    except OSError:
        pass
    return 'default'


if __name__ == '__main__':
    main()
