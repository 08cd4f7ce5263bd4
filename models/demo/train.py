#!/usr/bin/env python3
"""Trains the spoken-digit demo models from the Free Spoken Digit Dataset and exports them to ONNX.

    /usr/bin/python3 models/demo/train.py [--data ../shared/datasets/fsdd/recordings] [--out models/demo/repository]

Needs Debian's python3-torch and python3-onnx (apt-get install python3-torch python3-onnx).
Fixed seeds and single-process data handling: a second run gives the same weights on the same
machine and library versions (floating-point results may differ slightly across CPUs).

What it makes (all take FP32 audio [batch, 8000]: one second at 8 kHz, PCM16 / 32768,
zero-padded at the end or cropped; feature extraction is inside each graph):
  cloud/digits-cloud     the teacher: a CNN over log-mel features, outputs probs [batch, 10]
  edge/digits-edge       a small student distilled from the teacher's soft labels,
                         outputs probs [batch, 10] and embedding [batch, 1080] (a 24 x 5 x 9 feature map)
  cloud/digits-head      finishes from the edge embedding (split processing): probs [batch, 10]
Official split: recordings with index 0-4 are the test set, 5-49 the training set.
"""
import argparse
import json
import math
import os
import time
import wave

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SAMPLE_RATE = 8000
SAMPLES = 8000
N_FFT = 256
HOP = 100
N_MELS = 40
SEED = 20261122
LABELS = [str(d) for d in range(10)]


# ----------------------------------------------------------------------------------- data

def load_split(folder):
    """Returns (train_x, train_y, test_x, test_y) as float32 [n, 8000] and int64 [n]."""
    train_x, train_y, test_x, test_y = [], [], [], []
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".wav"):
            continue
        digit, _speaker, index = name[:-4].split("_")
        with wave.open(os.path.join(folder, name)) as w:
            assert w.getframerate() == SAMPLE_RATE and w.getnchannels() == 1 and w.getsampwidth() == 2, name
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        audio = np.zeros(SAMPLES, dtype=np.float32)
        clip = pcm[:SAMPLES].astype(np.float32) / 32768.0
        audio[:len(clip)] = clip
        if int(index) < 5:
            test_x.append(audio)
            test_y.append(int(digit))
        else:
            train_x.append(audio)
            train_y.append(int(digit))
    return (torch.tensor(np.stack(train_x)), torch.tensor(train_y),
            torch.tensor(np.stack(test_x)), torch.tensor(test_y))


def augment(x, generator):
    """Shift within the silent tail, random gain, light noise: what a device's microphone varies."""
    batch = x.shape[0]
    out = torch.empty_like(x)
    shifts = torch.randint(0, 1600, (batch,), generator=generator)
    for i in range(batch):
        out[i] = torch.roll(x[i], int(shifts[i]))
    gain = torch.empty(batch, 1).uniform_(0.3, 1.5, generator=generator)
    noise_level = torch.empty(batch, 1).uniform_(0.0, 0.01, generator=generator)
    noise = torch.randn(out.shape, generator=generator) * noise_level
    return out * gain + noise


# ------------------------------------------------------------------------------ front end

def mel_filterbank():
    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def mel_to_hz(m):
        return 700.0 * (10 ** (m / 2595.0) - 1.0)

    bins = N_FFT // 2 + 1
    freqs = np.linspace(0, SAMPLE_RATE / 2, bins)
    mel_points = np.linspace(hz_to_mel(20.0), hz_to_mel(SAMPLE_RATE / 2), N_MELS + 2)
    hz = mel_to_hz(mel_points)
    bank = np.zeros((N_MELS, bins), dtype=np.float32)
    for m in range(N_MELS):
        left, centre, right = hz[m], hz[m + 1], hz[m + 2]
        rising = (freqs - left) / (centre - left)
        falling = (right - freqs) / (right - centre)
        bank[m] = np.maximum(0, np.minimum(rising, falling))
    return torch.tensor(bank)


class LogMel(nn.Module):
    """Log-mel spectrogram from raw audio with plain ONNX operators: a fixed DFT as a strided
    convolution, power, a mel matrix, log, then per-utterance normalisation (gain-independent)."""

    def __init__(self):
        super().__init__()
        n = torch.arange(N_FFT, dtype=torch.float32)
        k = torch.arange(N_FFT // 2 + 1, dtype=torch.float32)
        window = 0.5 - 0.5 * torch.cos(2 * math.pi * n / N_FFT)
        angle = 2 * math.pi * k[:, None] * n[None, :] / N_FFT
        kernel = torch.cat([torch.cos(angle) * window, -torch.sin(angle) * window])[:, None, :]
        self.register_buffer("dft", kernel)
        self.register_buffer("mel", mel_filterbank())

    def forward(self, audio):
        spec = F.conv1d(audio.unsqueeze(1), self.dft, stride=HOP)       # [B, 2*129, T]
        real, imag = spec[:, :N_FFT // 2 + 1], spec[:, N_FFT // 2 + 1:]
        power = real * real + imag * imag                                  # [B, 129, T]
        mel = torch.matmul(self.mel, power)                                # [B, 40, T]
        logmel = torch.log(mel + 1e-6)
        mean = logmel.mean(dim=(1, 2), keepdim=True)
        std = torch.sqrt(((logmel - mean) ** 2).mean(dim=(1, 2), keepdim=True) + 1e-5)
        return ((logmel - mean) / std).unsqueeze(1)                        # [B, 1, 40, T]


def block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class CloudModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.front = LogMel()
        self.body = nn.Sequential(
            block(1, 16), block(16, 16), nn.MaxPool2d(2),
            block(16, 32), block(32, 32), nn.MaxPool2d(2),
            block(32, 64), block(64, 64), nn.MaxPool2d(2),
            block(64, 96), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(96, 10))

    def logits(self, audio):
        return self.body(self.front(audio))

    def forward(self, audio):
        return F.softmax(self.logits(audio), dim=1)


EMBED_SHAPE = (24, 5, 9)  # channels, mel bands, frames of the edge embedding


class EdgeModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.front = LogMel()
        # [1, 40, 78] -> [12, 20, 39] -> [24, 10, 19] -> [24, 5, 9]: 1080 floats cross the WAN instead of 8000
        self.stem = nn.Sequential(block(1, 12), nn.MaxPool2d(2), block(12, 24), nn.MaxPool2d(2), nn.AvgPool2d(2))
        self.head = nn.Sequential(block(24, 32), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))

    def embed(self, audio):
        return self.stem(self.front(audio))

    def logits(self, audio):
        return self.head(self.embed(audio))

    def forward(self, audio):
        features = self.embed(audio)
        return F.softmax(self.head(features), dim=1), features.flatten(1)


class CloudHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(block(24, 64), block(64, 64), nn.MaxPool2d(2), block(64, 96),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(96, 10))

    def logits(self, embedding):
        return self.body(embedding.view(-1, *EMBED_SHAPE))

    def forward(self, embedding):
        return F.softmax(self.logits(embedding), dim=1)


# ------------------------------------------------------------------------------- training

def train(model, parameters, loss_fn, train_x, train_y, epochs, lr, generator, label):
    optimiser = torch.optim.AdamW(parameters, lr=lr, weight_decay=1e-3)
    steps = epochs * math.ceil(len(train_x) / 64)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=steps)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(train_x), generator=generator)
        total, start = 0.0, time.time()
        for i in range(0, len(order), 64):
            idx = order[i:i + 64]
            x = augment(train_x[idx], generator)
            loss = loss_fn(x, train_y[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(idx)
        print(f"{label} epoch {epoch + 1}/{epochs} loss {total / len(train_x):.4f} ({time.time() - start:.1f} s)",
              flush=True)


def accuracy(predict, x, y):
    with torch.no_grad():
        return (predict(x).argmax(1) == y).float().mean().item()


def export(model, example, path, input_name, output_names, config):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    model.eval()
    dynamic = {input_name: {0: "batch"}}
    for name in output_names:
        dynamic[name] = {0: "batch"}
    torch.onnx.export(model, example, path, input_names=[input_name], output_names=output_names,
                      dynamic_axes=dynamic, opset_version=17, do_constant_folding=True)
    with open(os.path.join(os.path.dirname(path), "config.yaml"), "w") as f:
        f.write(config)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.path.join(here, "..", "..", "..", "shared", "datasets", "fsdd", "recordings"))
    parser.add_argument("--out", default=os.path.join(here, "repository"))
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()

    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.set_num_threads(2)
    generator = torch.Generator().manual_seed(SEED)
    train_x, train_y, test_x, test_y = load_split(args.data)
    print(f"train {len(train_x)} clips, test {len(test_x)} clips", flush=True)

    # 1. the cloud model (teacher)
    cloud = CloudModel()
    train(cloud, cloud.parameters(), lambda x, y: F.cross_entropy(cloud.logits(x), y, label_smoothing=0.05),
          train_x, train_y, args.epochs, 3e-3, generator, "cloud")
    cloud.eval()

    # 2. the edge model, distilled from the teacher's soft labels on the same augmented audio
    edge = EdgeModel()
    temperature, alpha = 3.0, 0.8

    def distilled(student_logits, x, y):
        """Match the teacher's soft labels at the temperature, plus a little of the hard labels."""
        with torch.no_grad():
            teacher = F.softmax(cloud.logits(x) / temperature, dim=1)
        soft = F.kl_div(F.log_softmax(student_logits / temperature, dim=1), teacher, reduction="batchmean")
        return alpha * soft * temperature ** 2 + (1 - alpha) * F.cross_entropy(student_logits, y)

    def distillation_loss(x, y):
        return distilled(edge.logits(x), x, y)

    train(edge, edge.parameters(), distillation_loss, train_x, train_y, args.epochs, 5e-3, generator, "edge")
    edge.eval()

    # 3. the cloud head, on the frozen edge model's embedding, also from the teacher's soft labels
    head = CloudHead()

    def head_loss(x, y):
        with torch.no_grad():
            features = edge.embed(x).flatten(1)
        return distilled(head.logits(features), x, y)

    train(head, head.parameters(), head_loss, train_x, train_y, args.epochs, 3e-3, generator, "head")
    head.eval()

    results = {
        "cloud": accuracy(cloud, test_x, test_y),
        "edge": accuracy(lambda x: edge(x)[0], test_x, test_y),
        "head": accuracy(lambda x: head(edge(x)[1]), test_x, test_y),
        "parameters": {
            "cloud": sum(p.numel() for p in cloud.parameters()),
            "edge": sum(p.numel() for p in edge.parameters()),
            "head": sum(p.numel() for p in head.parameters()),
        },
    }
    print("test accuracy (PyTorch):", json.dumps(results), flush=True)

    labels = "[" + ", ".join(f'"{l}"' for l in LABELS) + "]"
    credit = "# Trained on the Free Spoken Digit Dataset (Z. Jackson et al., CC BY-SA 4.0) by models/demo/train.py.\n"
    example = test_x[:2]
    export(cloud, example, os.path.join(args.out, "cloud", "digits-cloud", "model.onnx"), "audio", ["probs"],
           credit + f"version: \"1\"\nlabels: {labels}\nscores:\n  output: probs\n  kind: probabilities\n")
    export(edge, example, os.path.join(args.out, "edge", "digits-edge", "model.onnx"), "audio",
           ["probs", "embedding"],
           credit + f"version: \"1\"\nlabels: {labels}\nscores:\n  output: probs\n  kind: probabilities\n")
    export(head, edge(example)[1].detach(), os.path.join(args.out, "cloud", "digits-head", "model.onnx"), "embedding",
           ["probs"], credit + f"version: \"1\"\nlabels: {labels}\nscores:\n  output: probs\n  kind: probabilities\n")
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
