#!/usr/bin/env python3
"""Trains the spoken-digit demo models from the Free Spoken Digit Dataset and exports them to ONNX.

    /usr/bin/python3 models/demo/train.py [--data ../shared/datasets/fsdd/recordings] [--out models/demo/repository]

Needs Debian's python3-torch and python3-onnx, and espeak-ng, flite and sox for the synthetic voices
it adds to the training data (synthetic.py; apt-get install python3-torch python3-onnx espeak-ng flite sox).
Fixed seeds and single-process data handling: a second run gives the same weights on the same
machine and library versions (floating-point results may differ slightly across CPUs).

What it makes (all take FP32 audio [batch, 8000]: one second at 8 kHz, PCM16 / 32768,
zero-padded at the end or cropped; feature extraction is inside each graph):
  cloud/digits-cloud     the teacher: three CNNs over log-mel features, averaged; outputs probs [batch, 10]
  edge/digits-edge       a small student distilled from the teacher's soft labels,
                         outputs probs [batch, 10] and embedding FP16 [batch, 4560] (its 24 x 10 x 19
                         feature map before the last pool)
  cloud/digits-head      finishes from the edge embedding (split processing): probs [batch, 10]
Official split: recordings with index 0-4 are the test set, 5-49 the training set, with half the
synthetic voices (a draw with the seed; never test data).
"""
import argparse
import json
import math
import os
import tempfile
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
SPEAKERS = ["george", "jackson", "lucas", "nicolas", "yweweler"]
# the recipe's parts that can be switched off (--without), to measure what each one brings
RECIPE = {"band-normalisation": True, "speed-perturbation": True, "spec-augment": True, "floor": True,
          "tempo-normalisation": False, "speech-normalisation": False, "voice-normalisation": True}
# the log-mel image's floor: this far (natural log of power, 11.5 = 50 dB) below the clip's loudest
# point, so that each recording's silence (its microphone's noise, or the zero padding) looks alike
FLOOR = 11.5
SPEED_RANGE = 0.08  # speed perturbation: resampled by 1 +- this
EDGE_SIZE = "wide"  # or "small" (the first recipe's), or "wider" (about 1.7x the parameters)
CLOUD_SIZE = "bands"  # the last map averaged over time only; or "standard" (over bands too), "wide" (about twice the channels), "order" (a GRU over its frames)
TEACHERS = 3  # the cloud model averages this many teachers, each trained from its own seed; the students learn from them
EXTRA_TEACHERS = 0  # and this many more, trained after the students (train_extra_teachers)
MIXUP = 0.0  # mixup's Beta(a, a) for the teacher's training (0: off)
STRETCH = 0.6  # tempo perturbation of the teacher's log-mel image: its time axis stretched by up to 1 + this (0: off)
STUDENT_STRETCH = 0.3  # the same for the edge model and the head, with the teacher labelling the stretched image
# tempo normalisation: frames within this far (natural log of power, 6.9 = 30 dB) of the clip's loudest
# frame are speech; the image is resampled so that the span from the first to the last of them,
# TEMPO_MARGIN frames wider on each side, fills the clip's frames
ACTIVE = 6.9
TEMPO_MARGIN = 2
TEMPO_TEACHERS = 0  # the last this many teachers see the tempo-normalised image (normalise_tempo), the others the plain one
LIFTER = 0  # cepstral smoothing of the log-mel image: only its first LIFTER cepstra kept (0: off)
WARP = 0.0  # frequency warping of the teacher's log-mel image by 1 +- this (0: off)
EQ = 0.0  # the share of the teacher's training clips heard through another microphone (a random smooth response; 0: off)
REVERB = 0.0  # the share of the teacher's training clips heard in a room (a synthetic room response; 0: off)
# what crosses the link for split routes: "prepool" (the edge model's features before the stem's last
# 2x2 average pool, [24, 10, 19]) or "embedding" (its last stem output, [24, 5, 9]: a quarter of the
# bytes; the head learns less from it, about a point under prepool on voices it never heard)
HEAD_FROM = "prepool"
# the datatype of what crosses the link for split routes: "fp16" (the edge casts its features to half
# precision, the head casts them back: half the bytes) or "fp32"
LINK = "fp16"
# with voice normalisation, the profile the edge model and the head learn on: "voice" (each training
# voice's own, as the teachers), "fixed" (the training voices' average, what their graphs remove) or
# "clip" (none: the clip's own band means removed, as without voice normalisation; the teacher labels
# its own image of the same audio, stretched alike)
STUDENT_PROFILE = "clip"
SAVE_TEACHERS = None  # --save-teachers
LOAD_TEACHERS = None  # --load-teachers
# the edge model outputs each clip's band profile and the cloud model takes a device's voice profile as an
# input (device_profile); off: the cloud model removes only the fixed profile and the edge outputs none
DEVICE_PROFILE = True
# the speed views a device picks for its user (speed_views): the edge model takes a speed, the cloud model views
SPEED_VIEWS = True
SYNTHETIC = None  # --synthetic: how many synthetic clips of how many voices the training data has
SYNTHETIC_CLIPS = 0  # how many of the training data's clips are synthetic (always its last ones)
SYNTHETIC_WEIGHT = 1.0  # --synthetic-weight: a synthetic clip's weight in the teachers' loss
TEST_TIME_VIEWS = False  # --test-time-views
ROUTED_SHARE = 0.12  # the share of test clips the routed figures escalate (the least sure, by the edge's margin)


# ----------------------------------------------------------------------------------- data

def load_all(folder):
    """Every recording: (audio float32 [n, 8000], digit int64 [n], speaker names [n], index within speaker [n])."""
    audio, digits, speakers, indices = [], [], [], []
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".wav"):
            continue
        digit, speaker, index = name[:-4].split("_")
        with wave.open(os.path.join(folder, name)) as w:
            assert w.getframerate() == SAMPLE_RATE and w.getnchannels() == 1 and w.getsampwidth() == 2, name
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        clip = np.zeros(SAMPLES, dtype=np.float32)
        samples = pcm[:SAMPLES].astype(np.float32) / 32768.0
        clip[:len(samples)] = samples
        audio.append(clip)
        digits.append(int(digit))
        speakers.append(speaker)
        indices.append(int(index))
    return torch.tensor(np.stack(audio)), torch.tensor(digits), np.array(speakers), np.array(indices)


def split(data, holdout):
    """(train_x, train_y, test_x, test_y, train_voices): the official split (index 0-4 test) when
    holdout is None, else every recording of the other speakers against every recording of the
    held-out one; train_voices names each training clip's voice."""
    audio, digits, speakers, indices = data
    test = (indices < 5) if holdout is None else (speakers == holdout)
    held = torch.tensor(test)
    return audio[~held], digits[~held], audio[held], digits[held], speakers[~test]


def heard_as(x, changed, chosen):
    """Each clip of x [B, samples] whose row of chosen [B] is true replaced by changed, scaled to x's peak."""
    peak = x.abs().amax(dim=1, keepdim=True) / changed.abs().amax(dim=1, keepdim=True).clamp(min=1e-6)
    return torch.where(chosen.view(-1, 1), changed * peak, x)


def room(x, generator):
    """The share REVERB of the clips x [B, samples] as heard in a room: convolved with a synthetic room
    response, the direct sound then exponentially decaying noise (reverberation time 0.15-0.6 s,
    direct-to-reverberant ratio -3 to 12 dB), scaled back to the clip's peak."""
    batch = x.shape[0]
    length = SAMPLE_RATE // 2
    heard = torch.rand(batch, generator=generator) < REVERB
    rt60 = torch.empty(batch, 1).uniform_(0.15, 0.6, generator=generator)
    drr = torch.empty(batch, 1).uniform_(-3.0, 12.0, generator=generator)
    t = torch.arange(length, dtype=torch.float32).view(1, -1) / SAMPLE_RATE
    tail = torch.randn(batch, length, generator=generator) * torch.exp(-6.9 * t / rt60)
    tail[:, 0] = 0
    tail = tail * torch.sqrt(10 ** (-drr / 10) / tail.pow(2).sum(dim=1, keepdim=True))
    tail[:, 0] = 1
    n = 2 * SAMPLES
    return heard_as(x, torch.fft.irfft(torch.fft.rfft(x, n) * torch.fft.rfft(tail, n), n)[:, :SAMPLES], heard)


def microphone(x, generator):
    """The share EQ of the clips x [B, samples] as another microphone would hear them: filtered by a
    random smooth response, a tilt of -12 to +12 dB from 0 to 4 kHz and two bumps of -6 to +6 dB
    (300-1000 Hz wide), scaled back to the clip's peak."""
    batch = x.shape[0]
    heard = torch.rand(batch, generator=generator) < EQ
    n = SAMPLES
    hz = torch.fft.rfftfreq(n, 1 / SAMPLE_RATE).view(1, -1)
    tilt = torch.empty(batch, 1).uniform_(-12, 12, generator=generator)
    db = tilt * (hz / (SAMPLE_RATE / 2) - 0.5)
    for _ in range(2):
        centre = torch.empty(batch, 1).uniform_(200, 3800, generator=generator)
        width = torch.empty(batch, 1).uniform_(300, 1000, generator=generator)
        height = torch.empty(batch, 1).uniform_(-6, 6, generator=generator)
        db = db + height * torch.exp(-0.5 * ((hz - centre) / (width / 2)) ** 2)
    return heard_as(x, torch.fft.irfft(torch.fft.rfft(x, n) * 10 ** (db / 20), n), heard)


def augment(x, generator, speed=False):
    """What differs between recordings: position in the clip, gain, light noise; with speed, also
    between voices: speaking rate and vocal tract length (speed perturbation: resampled by
    1 +- SPEED_RANGE, which moves pitch and formants together), and the microphone (EQ) and the room (REVERB)."""
    if speed and EQ > 0:
        x = microphone(x, generator)
    if speed and REVERB > 0:
        x = room(x, generator)
    batch = x.shape[0]
    out = torch.zeros_like(x)
    factors = torch.empty(batch).uniform_(1 - SPEED_RANGE, 1 + SPEED_RANGE, generator=generator)
    if not speed:
        factors.fill_(1.0)
    shifts = torch.randint(0, 1600, (batch,), generator=generator)
    for i in range(batch):
        length = int(SAMPLES / float(factors[i]))
        resampled = F.interpolate(x[i].view(1, 1, -1), size=length, mode="linear", align_corners=False).view(-1)
        resampled = resampled[:SAMPLES]
        out[i, :len(resampled)] = resampled
        out[i] = torch.roll(out[i], int(shifts[i]))
    gain = torch.empty(batch, 1).uniform_(0.3, 1.5, generator=generator)
    noise_level = torch.empty(batch, 1).uniform_(0.0, 0.01, generator=generator)
    noise = torch.randn(out.shape, generator=generator) * noise_level
    return out * gain + noise


def resample_rows(image, source):
    """image [rows, columns] read at fractional row positions source [n] (linear, clamped at the ends)."""
    source = source.clamp(0, image.shape[0] - 1)
    low = source.floor().long()
    high = (low + 1).clamp(max=image.shape[0] - 1)
    weight = (source - low.float()).view(-1, 1)
    return image[low] * (1 - weight) + image[high] * weight


def stretch_factors(batch, generator, amount=None):
    """Tempo perturbation's factors [batch]: between 1 / (1 + amount) and 1 + amount (log-uniform)."""
    spread = math.log(1 + (STRETCH if amount is None else amount))
    return torch.exp(torch.empty(batch).uniform_(-spread, spread, generator=generator))


def stretch(features, generator, amount=None, factors=None):
    """Tempo perturbation of the log-mel image [B, 1, mels, frames]: the time axis stretched or
    squeezed by a factor between 1 / (1 + STRETCH) and 1 + STRETCH (log-uniform), pitch and
    formants untouched; factors, when given, are the draws (stretch_factors). Speakers differ far
    more in speaking rate (one says "two" in 190 ms, another in 420 ms) than speed perturbation
    can cover without moving the formants too far."""
    batch, _, mels, frames = features.shape
    if factors is None:
        factors = stretch_factors(batch, generator, amount)
    columns = torch.arange(frames, dtype=torch.float32)
    out = torch.empty_like(features)
    for i in range(batch):
        out[i, 0] = resample_rows(features[i, 0].t(), columns / float(factors[i])).t()
    return out


def tempo_view(features, factor):
    """The log-mel image [B, 1, mels, frames] with its time axis stretched by factor (squeezed below 1)."""
    source = torch.arange(features.shape[-1], dtype=torch.float32) / factor
    return torch.stack([resample_rows(image[0].t(), source).t() for image in features]).unsqueeze(1)


def speed_view(audio, factor):
    """The audio [B, samples] played factor times as fast (pitch and formants move with it)."""
    length = int(SAMPLES / factor)
    out = F.interpolate(audio.unsqueeze(1), size=length, mode="linear", align_corners=False).squeeze(1)[:, :SAMPLES]
    return F.pad(out, (0, SAMPLES - out.shape[1]))


class SpeedView(nn.Module):
    """speed_view with a speed per row, in operations ONNX exports (Gather, Floor, Where): audio [B,
    samples] played speed [B, 1] times as fast, by the same linear interpolation (corners not aligned)
    to int(SAMPLES / speed) samples, cropped or zero-padded to SAMPLES. Positions are computed in
    double precision, where F.interpolate rounds them in float (the two differ by up to about 0.002
    of full scale)."""

    def forward(self, audio, speed):
        length = torch.floor(SAMPLES / speed.double())                          # [B, 1]
        n = torch.arange(SAMPLES, dtype=torch.float64).unsqueeze(0)             # [1, SAMPLES]
        # in double precision: a source position near 8000 has only about 0.001 of a sample's precision in float
        source = ((n + 0.5) * (SAMPLES / length) - 0.5).clamp(min=0)            # [B, SAMPLES]
        below = torch.floor(source)
        weight = (source - below).to(audio.dtype)
        first = below.long().clamp(max=SAMPLES - 1)
        second = (first + 1).clamp(max=SAMPLES - 1)
        out = torch.gather(audio, 1, first) * (1 - weight) + torch.gather(audio, 1, second) * weight
        return torch.where(n < length, out, torch.zeros_like(out))


def warp(features, generator):
    """Frequency warping of the log-mel image [B, 1, mels, frames] (VTLP-style): the mel axis
    stretched or squeezed by 1 +- WARP about the bottom band, as a longer or shorter vocal tract
    moves the formants, without changing the duration as speed perturbation does."""
    batch, _, mels, frames = features.shape
    factors = torch.empty(batch).uniform_(1 - WARP, 1 + WARP, generator=generator)
    rows = torch.arange(mels, dtype=torch.float32)
    out = torch.empty_like(features)
    for i in range(batch):
        out[i, 0] = resample_rows(features[i, 0], rows / float(factors[i]))
    return out


def spec_augment(features, generator):
    """SpecAugment-style masking on the log-mel image [B, 1, mels, frames] while training: one band
    of up to 6 mel bands and two stretches of up to 8 frames set to the clip's mean (0)."""
    batch, _, mels, frames = features.shape
    out = features.clone()
    for i in range(batch):
        width = int(torch.randint(0, 7, (1,), generator=generator))
        start = int(torch.randint(0, mels - width + 1, (1,), generator=generator))
        out[i, :, start:start + width, :] = 0
        for _ in range(2):
            width = int(torch.randint(0, 9, (1,), generator=generator))
            start = int(torch.randint(0, frames - width + 1, (1,), generator=generator))
            out[i, :, :, start:start + width] = 0
    return out


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


def normalise_tempo(logmel, loudness):
    """The log-mel image [B, mels, T] resampled in time so that the spoken span (the frames whose
    loudness [B, T] is within ACTIVE of the loudest, TEMPO_MARGIN frames wider) fills all T frames:
    a digit said slowly and the same digit said fast become the same image. Plain ONNX operators
    (CumSum, comparisons, GatherElements), so it runs inside each graph like the rest of the front end."""
    frames = logmel.shape[2]
    active = (loudness > loudness.amax(dim=1, keepdim=True) - ACTIVE).float()
    seen = torch.cumsum(active, dim=1)
    first = (seen == 0).float().sum(dim=1, keepdim=True)                  # index of the first active frame
    last = (seen < seen[:, -1:]).float().sum(dim=1, keepdim=True)         # index of the last active frame
    first = torch.clamp(first - TEMPO_MARGIN, min=0.0)
    last = torch.clamp(last + TEMPO_MARGIN, max=float(frames - 1))
    steps = torch.arange(frames, dtype=torch.float32, device=logmel.device).view(1, -1) / (frames - 1)
    source = first + (last - first) * steps                                # [B, T] fractional source frames
    low = torch.floor(source)
    weight = (source - low).unsqueeze(1)
    low = low.long()
    high = torch.clamp(low + 1, max=frames - 1)
    mels = logmel.shape[1]
    below = torch.gather(logmel, 2, low.unsqueeze(1).expand(-1, mels, -1))
    above = torch.gather(logmel, 2, high.unsqueeze(1).expand(-1, mels, -1))
    return below * (1 - weight) + above * weight


def lifter_matrix(keep):
    """[mels, mels]: the log-mel frame through a DCT, its first keep cepstra only, and back: the
    spectral envelope (the vocal tract's formants, which carry the digit) without the fine
    structure of the voice's harmonics (its pitch, which carries the speaker)."""
    n = torch.arange(N_MELS, dtype=torch.float64)
    k = torch.arange(N_MELS, dtype=torch.float64)
    dct = torch.cos(math.pi / N_MELS * (n[None, :] + 0.5) * k[:, None]) * math.sqrt(2.0 / N_MELS)
    dct[0] /= math.sqrt(2.0)                                  # orthonormal DCT-II: rows are cepstra
    return (dct[:keep].t() @ dct[:keep]).float()


class LogMel(nn.Module):
    """Log-mel spectrogram from raw audio with plain ONNX operators: a fixed DFT as a strided
    convolution, power, a mel matrix, log, then per-utterance normalisation (gain-independent)."""

    def __init__(self, tempo=None, voice=None):
        super().__init__()
        self.tempo = RECIPE["tempo-normalisation"] if tempo is None else tempo
        # whether it removes a voice profile (voice normalisation) or, with band normalisation, the clip's own band means
        self.voice = RECIPE["voice-normalisation"] if voice is None else voice
        n = torch.arange(N_FFT, dtype=torch.float32)
        k = torch.arange(N_FFT // 2 + 1, dtype=torch.float32)
        window = 0.5 - 0.5 * torch.cos(2 * math.pi * n / N_FFT)
        angle = 2 * math.pi * k[:, None] * n[None, :] / N_FFT
        kernel = torch.cat([torch.cos(angle) * window, -torch.sin(angle) * window])[:, None, :]
        self.register_buffer("dft", kernel)
        self.register_buffer("mel", mel_filterbank())
        if LIFTER > 0:
            self.register_buffer("smooth", lifter_matrix(LIFTER))
        self.register_buffer("profile", torch.zeros(N_MELS))  # voice normalisation's: set by voice_profiles

    def floored(self, audio):
        """(log-mel image [B, 40, T] with its floor, tempo normalisation and smoothing; mel power [B, 40, T])."""
        spec = F.conv1d(audio.unsqueeze(1), self.dft, stride=HOP)       # [B, 2*129, T]
        real, imag = spec[:, :N_FFT // 2 + 1], spec[:, N_FFT // 2 + 1:]
        power = real * real + imag * imag                                  # [B, 129, T]
        mel = torch.matmul(self.mel, power)                                # [B, 40, T]
        logmel = torch.log(mel + 1e-6)
        if self.tempo:
            logmel = normalise_tempo(logmel, torch.log(mel.sum(dim=1) + 1e-6))
        if RECIPE["floor"]:
            top = logmel.amax(dim=(1, 2), keepdim=True)
            logmel = torch.maximum(logmel, top - FLOOR)
        if LIFTER > 0:
            logmel = torch.matmul(self.smooth, logmel)
        return logmel, mel

    def band_shape(self, audio):
        """Each clip's band profile [B, 40]: its bands' means over the clip, less their mean (its level)."""
        bands = self.floored(audio)[0].mean(dim=2)
        return bands - bands.mean(dim=1, keepdim=True)

    def forward(self, audio, profile=None):
        """The normalised image [B, 1, 40, T]. With voice normalisation, profile [B, 40] is each clip's
        voice's band profile (training); without it, the training voices' average (self.profile)."""
        logmel, mel = self.floored(audio)
        if RECIPE["speech-normalisation"]:
            # the same normalisations over the spoken frames only (within ACTIVE of the loudest): over
            # the whole clip they depend on how much of it is speech, so a digit said slowly came out
            # with other features than the same digit said fast (its vowel's envelope taken for the voice's)
            loudness = torch.log(mel.sum(dim=1) + 1e-6)
            weight = (loudness > loudness.amax(dim=1, keepdim=True) - ACTIVE).float().unsqueeze(1)  # [B, 1, T]
            count = weight.sum(dim=2, keepdim=True)
            if RECIPE["band-normalisation"]:
                logmel = logmel - (logmel * weight).sum(dim=2, keepdim=True) / count
            mean = (logmel * weight).sum(dim=(1, 2), keepdim=True) / (count * logmel.shape[1])
            std = torch.sqrt((((logmel - mean) ** 2) * weight).sum(dim=(1, 2), keepdim=True)
                             / (count * logmel.shape[1]) + 1e-5)
            return ((logmel - mean) / std).unsqueeze(1)
        if self.voice:
            # the voice's average band profile removed, not the clip's: the clip's own band means hold
            # its word's average spectrum too. Training removes each voice's own profile (each training
            # voice's envelope and microphone taken out); the graph removes the training voices' average
            logmel = logmel - (self.profile.view(1, -1, 1) if profile is None else profile.unsqueeze(2))
        elif RECIPE["band-normalisation"]:
            # each band's mean over the clip removed: the voice's and the microphone's average
            # spectral envelope, which differ from speaker to speaker, not the digit
            logmel = logmel - logmel.mean(dim=2, keepdim=True)
        mean = logmel.mean(dim=(1, 2), keepdim=True)
        std = torch.sqrt(((logmel - mean) ** 2).mean(dim=(1, 2), keepdim=True) + 1e-5)
        return ((logmel - mean) / std).unsqueeze(1)                        # [B, 1, 40, T]


class TimeMean(nn.Module):
    def forward(self, x):
        return x.mean(dim=3)


class InOrder(nn.Module):
    """[B, C, bands, frames] -> the last state of a GRU run over the frames of the band-averaged map."""
    def __init__(self, channels, hidden):
        super().__init__()
        self.gru = nn.GRU(channels, hidden, batch_first=True)

    def forward(self, x):
        _, last = self.gru(x.mean(dim=2).transpose(1, 2))
        return last[0]


def block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class CloudModel(nn.Module):
    def __init__(self, tempo=None):
        super().__init__()
        self.front = LogMel(tempo)
        w = [24, 48, 96, 128] if CLOUD_SIZE == "wide" else [16, 32, 64, 96]
        stages = [block(1, w[0]), block(w[0], w[0]), nn.MaxPool2d(2),
                  block(w[0], w[1]), block(w[1], w[1]), nn.MaxPool2d(2),
                  block(w[1], w[2]), block(w[2], w[2]), nn.MaxPool2d(2), block(w[2], w[3])]
        if CLOUD_SIZE == "bands":
            # the last map ([96, 5, 9]) averaged over time only: the classifier sees which mel bands the
            # features lie in, not only which features there are
            self.body = nn.Sequential(*stages, TimeMean(), nn.Flatten(), nn.Dropout(0.3), nn.Linear(w[3] * N_MELS // 8, 10))
        elif CLOUD_SIZE == "order":
            # the last map's bands averaged, then a GRU over its frames: the classifier sees in which order
            # the features come
            self.body = nn.Sequential(*stages, InOrder(w[3], 64), nn.Dropout(0.3), nn.Linear(64, 10))
        else:
            self.body = nn.Sequential(*stages, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(w[3], 10))

    def logits(self, audio):
        return self.body(self.front(audio))

    def forward(self, audio):
        return F.softmax(self.logits(audio), dim=1)


EMBED_SHAPE = (24, 10, 19)  # channels, mel bands, frames of what the head gets (HEAD_FROM "embedding": (24, 5, 9))


class EdgeModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.front = LogMel(voice=False if STUDENT_PROFILE == "clip" else None)
        if EDGE_SIZE in ("wide", "wider"):
            # [1, 40, 78] -> [a, 20, 39] -> [24, 10, 19] -> [24, 5, 9]: split routes send the [24, 10, 19] map (HEAD_FROM);
            # "wider" has about half as many channels again inside, and sends the same map
            a, b, c = (16, 32, 48) if EDGE_SIZE == "wide" else (24, 48, 64)
            self.stem = nn.Sequential(block(1, a), block(a, a), nn.MaxPool2d(2), block(a, b), nn.MaxPool2d(2),
                                      block(b, 24), nn.AvgPool2d(2))
            self.head = nn.Sequential(block(24, c), block(c, c), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                      nn.Linear(c, 10))
            return
        # [1, 40, 78] -> [12, 20, 39] -> [24, 10, 19] -> [24, 5, 9]: the first recipe's, narrower
        self.stem = nn.Sequential(block(1, 12), nn.MaxPool2d(2), block(12, 24), nn.MaxPool2d(2), nn.AvgPool2d(2))
        self.head = nn.Sequential(block(24, 32), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))

    def embed(self, audio):
        return self.stem(self.front(audio))

    def sent(self, image):
        """What a split route sends the cloud head, from the log-mel image: the embedding, or the
        features before the stem's last pool (HEAD_FROM)."""
        return self.stem(image) if HEAD_FROM == "embedding" else self.stem[:-1](image)

    def logits(self, audio):
        return self.head(self.embed(audio))

    def forward(self, audio):
        image = self.front(audio)
        if HEAD_FROM == "embedding":
            features = self.stem(image)
            return F.softmax(self.head(features), dim=1), features.flatten(1)
        before = self.stem[:-1](image)
        return F.softmax(self.head(self.stem[-1](before)), dim=1), before.flatten(1)


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

def train(model, parameters, loss_fn, train_x, train_y, epochs, lr, generator, label, speed=False):
    """loss_fn(x, y, rows): the loss of the augmented clips x, labels y, rows their indices in train_x."""
    optimiser = torch.optim.AdamW(parameters, lr=lr, weight_decay=1e-3)
    steps = epochs * math.ceil(len(train_x) / 64)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=steps)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(train_x), generator=generator)
        total, start = 0.0, time.time()
        for i in range(0, len(order), 64):
            idx = order[i:i + 64]
            x = augment(train_x[idx], generator, speed)
            loss = loss_fn(x, train_y[idx], idx)
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


def routed(cloud, edge, head, x, y):
    """The cascade and the split on the test clips, escalating the ROUTED_SHARE the edge is least
    sure of (smallest margin between its two likeliest digits): a quick judge of a recipe; the
    model cards' figures come from the policy engine itself (DemoReport)."""
    with torch.no_grad():
        edge_p, sent = edge(x)
        cloud_right = cloud(x).argmax(1) == y
        head_right = head(sent).argmax(1) == y
    top = edge_p.topk(2, dim=1).values
    escalated = torch.zeros(len(y), dtype=torch.bool)
    escalated[(top[:, 0] - top[:, 1]).argsort()[:round(ROUTED_SHARE * len(y))]] = True
    edge_right = edge_p.argmax(1) == y
    return {"escalated": escalated.float().mean().item(),
            "cascade": torch.where(escalated, cloud_right, edge_right).float().mean().item(),
            "split": torch.where(escalated, head_right, edge_right).float().mean().item()}


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


class Teachers(nn.Module):
    """The cloud model: the average of its teachers' probabilities, over one shared front end."""

    def __init__(self, members):
        super().__init__()
        self.members = nn.ModuleList(members)

    def mixed(self):
        """Whether the members see different images (some tempo-normalised, some not)."""
        return len({m.front.tempo for m in self.members}) > 1

    def probabilities(self, audio):
        if not self.mixed():
            return self.from_features(self.members[0].front(audio))
        views = {}
        for m in self.members:
            if m.front.tempo not in views:
                views[m.front.tempo] = m.front(audio)
        return torch.stack([F.softmax(m.body(views[m.front.tempo]), dim=1) for m in self.members]).mean(0)

    def from_features(self, features):
        return torch.stack([F.softmax(m.body(features), dim=1) for m in self.members]).mean(0)

    def logits(self, audio):
        return torch.log(self.probabilities(audio) + 1e-7)

    def forward(self, audio):
        return self.probabilities(audio)


def voice_profiles(train_x, voices):
    """With voice normalisation, each training clip's voice's band profile [clips, 40]: the mean of
    that voice's clips' band shapes (LogMel.band_shape); None without it."""
    if not RECIPE["voice-normalisation"]:
        return None
    front = LogMel()
    with torch.no_grad():
        shapes = torch.cat([front.band_shape(train_x[i:i + 500]) for i in range(0, len(train_x), 500)])
    profiles = torch.empty_like(shapes)
    for voice in sorted(set(voices)):
        rows = torch.tensor(voices == voice)
        profiles[rows] = shapes[rows].mean(dim=0)
    return profiles


def set_profile(model, profiles):
    """The profile model's graph removes: the training clips' average voice profile (its voices
    weighted by their clips)."""
    if profiles is not None:
        model.front.profile.copy_(profiles.mean(dim=0))


def synthetic_weights(clips):
    """The teachers' loss weight of each training clip: SYNTHETIC_WEIGHT for the synthetic clips (the
    last SYNTHETIC_CLIPS of the training data), 1 for recordings; None when all weigh the same."""
    if SYNTHETIC_WEIGHT == 1 or not SYNTHETIC_CLIPS:
        return None
    weights = torch.ones(clips)
    weights[clips - SYNTHETIC_CLIPS:] = SYNTHETIC_WEIGHT
    return weights


def teacher_network(k):
    """Teacher k's network, untrained: the last TEMPO_TEACHERS of the first TEACHERS, and any extra
    ones after them, see the tempo-normalised image."""
    return CloudModel(True if TEMPO_TEACHERS and k >= TEACHERS - TEMPO_TEACHERS else None)


def train_teacher(k, count, train_x, train_y, epochs, generator, profiles, weights, mixing):
    """Teacher k of count: trained from its own seed on audio perturbed as other voices would say it
    (speed), with its log-mel image stretched in time (STRETCH) and warped in frequency (WARP), masked
    (SpecAugment) and mixed (MIXUP); generator draws the perturbations."""
    torch.manual_seed(SEED + k)
    model = teacher_network(k)
    set_profile(model, profiles)

    def loss(x, y, rows):
        features = model.front(x, None if profiles is None else profiles[rows])
        if STRETCH > 0 and not model.front.tempo:  # a tempo-normalised image has no tempo to perturb
            features = stretch(features, generator)
        if WARP > 0:
            features = warp(features, generator)
        if RECIPE["spec-augment"]:
            features = spec_augment(features, generator)
        if MIXUP > 0:
            share = float(mixing.beta(MIXUP, MIXUP))
            other = torch.randperm(len(x), generator=generator)
            features = share * features + (1 - share) * features[other]
            logits = model.body(features)
            return share * F.cross_entropy(logits, y, label_smoothing=0.05) + \
                (1 - share) * F.cross_entropy(logits, y[other], label_smoothing=0.05)
        if weights is not None:
            w = weights[rows]
            each = F.cross_entropy(model.body(features), y, label_smoothing=0.05, reduction="none")
            return (each * w).sum() / w.sum()
        return F.cross_entropy(model.body(features), y, label_smoothing=0.05)

    label = "cloud" if count == 1 else f"cloud {k + 1}/{count}"
    train(model, model.parameters(), loss, train_x, train_y, epochs, 3e-3, generator, label,
          speed=RECIPE["speed-perturbation"])
    model.eval()
    return model


def train_teachers(train_x, train_y, epochs, generator, profiles=None):
    """The teachers the students learn from: TEACHERS of them (train_teacher), drawing their
    perturbations from the recipe's generator one after the other."""
    mixing = np.random.default_rng(SEED)
    weights = synthetic_weights(len(train_x))
    count = TEACHERS + EXTRA_TEACHERS
    cloud = Teachers([train_teacher(k, count, train_x, train_y, epochs, generator, profiles, weights, mixing)
                      for k in range(TEACHERS)])
    cloud.eval()
    return cloud


def train_extra_teachers(train_x, train_y, epochs, profiles=None):
    """The cloud model's EXTRA_TEACHERS more teachers (None without them), trained after the students
    with the same recipe, each from its own seed and with a generator of its own (SEED + its number),
    so that they come out the same whether trained in a whole run or alone (--extra-teachers-only).
    The students learn from the first TEACHERS only."""
    if not EXTRA_TEACHERS:
        return None
    count = TEACHERS + EXTRA_TEACHERS
    weights = synthetic_weights(len(train_x))
    members = []
    for k in range(TEACHERS, count):
        generator = torch.Generator().manual_seed(SEED + k)
        members.append(train_teacher(k, count, train_x, train_y, epochs, generator, profiles, weights,
                                     np.random.default_rng(SEED + k)))
    extra = Teachers(members)
    extra.eval()
    return extra


def train_all(train_x, train_y, epochs, generator, profiles=None, cloud=None):
    """The recipe: the teacher (trained here, or cloud: as --teachers-only trained it with the same
    recipe and seed), the student distilled from it, the cloud head on the student's embedding."""
    # 1. the cloud model (teacher), on audio perturbed as other voices would say it. The student and
    # the head learn from it on plain audio: the same perturbations cost the small student accuracy
    # on an unseen speaker (held-out lucas, 20 epochs: 74.4% with them, 88.4% without)
    if cloud is None:
        cloud = train_teachers(train_x, train_y, epochs, generator, profiles)

    # 2. the edge model, distilled from the teacher's soft labels on the same augmented audio
    edge = EdgeModel()
    if edge.front.voice:
        set_profile(edge, profiles)
    temperature, alpha = 3.0, 0.8

    def image(x, rows):
        """(The log-mel image both learn from, the teacher's image of the same audio): stretched in time
        when STUDENT_STRETCH is on. The teacher's is the students' own unless their front ends differ
        (STUDENT_PROFILE "clip"); then it is its own, with each clip stretched by the same factor."""
        features = edge.front(x, None if profiles is None or STUDENT_PROFILE == "fixed" else profiles[rows])
        teacher = features
        if profiles is not None and not edge.front.voice:
            with torch.no_grad():
                teacher = cloud.members[0].front(x, profiles[rows])
        if STUDENT_STRETCH > 0:
            factors = stretch_factors(len(x), generator, STUDENT_STRETCH)
            stretched = stretch(features, None, factors=factors)
            teacher = stretched if teacher is features else stretch(teacher, None, factors=factors)
            features = stretched
        return features, teacher

    def distilled(student_logits, features, y, x):
        """Match the teacher's soft labels at the temperature, plus a little of the hard labels. The
        teacher labels its image of the student's (features), or, when its members see different images, the audio."""
        with torch.no_grad():
            probabilities = cloud.probabilities(x) if cloud.mixed() else cloud.from_features(features)
            teacher = F.softmax(torch.log(probabilities + 1e-7) / temperature, dim=1)
        soft = F.kl_div(F.log_softmax(student_logits / temperature, dim=1), teacher, reduction="batchmean")
        return alpha * soft * temperature ** 2 + (1 - alpha) * F.cross_entropy(student_logits, y)

    def edge_loss(x, y, rows):
        features, teacher = image(x, rows)
        return distilled(edge.head(edge.stem(features)), teacher, y, x)

    train(edge, edge.parameters(), edge_loss, train_x, train_y, epochs, 5e-3, generator, "edge")
    edge.eval()

    # 3. the cloud head, on the frozen edge model's embedding, also from the teacher's soft labels
    head = CloudHead()

    def head_loss(x, y, rows):
        features, teacher = image(x, rows)
        with torch.no_grad():
            embedding = edge.sent(features).flatten(1)
        return distilled(head.logits(embedding), teacher, y, x)

    train(head, head.parameters(), head_loss, train_x, train_y, epochs, 3e-3, generator, "head")
    head.eval()
    return cloud, edge, head


def export_all(cloud, edge, head, example, out, results, extra=None):
    labels = "[" + ", ".join(f'"{l}"' for l in LABELS) + "]"
    credit = "# Trained on the Free Spoken Digit Dataset (Z. Jackson et al., CC BY-SA 4.0) by models/demo/train.py.\n"
    config = credit + f"version: \"1\"\nlabels: {labels}\nscores:\n  output: probs\n  kind: probabilities\n"
    export(cloud, example, os.path.join(out, "cloud", "digits-cloud", "model.onnx"), "audio", ["probs"], config)
    export(edge, example, os.path.join(out, "edge", "digits-edge", "model.onnx"), "audio", ["probs", "embedding"], config)
    export(head, edge(example)[1].detach(), os.path.join(out, "cloud", "digits-head", "model.onnx"), "embedding",
           ["probs"], config)
    if LINK == "fp16":
        half_link(out)
    if DEVICE_PROFILE and RECIPE["voice-normalisation"]:
        device_profile(out)
    if extra is not None:
        add_teachers(out, extra, example)
    if DEVICE_PROFILE and RECIPE["voice-normalisation"] and SPEED_VIEWS:
        speed_views(out)
    with open(os.path.join(out, "training.json"), "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")


def device_profile(out):
    """Lets a device hand the cloud model its user's voice profile, in the exported graphs: the edge
    model gains an output clip_profile [batch, 40] (the clip's band shape, LogMel.band_shape: each
    band's mean over the clip of the floored log-mel image, less their mean), and the cloud model
    removes the profile given as its input voice_profile [batch, 40] instead of the fixed one, which
    its config.yaml keeps as that input's default (what a request without it gets). The mean of a
    voice's clip profiles is its voice profile, as training removed it. Runs on a folder export_all wrote."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    cloud_path = os.path.join(out, "cloud", "digits-cloud", "model.onnx")
    cloud = onnx.load(cloud_path)
    if any(i.name == "voice_profile" for i in cloud.graph.input):
        return  # done already
    profile = profile_input(cloud)
    onnx.checker.check_model(cloud)
    onnx.save(cloud, cloud_path)
    config = os.path.join(os.path.dirname(cloud_path), "config.yaml")
    with open(config, "a") as f:
        f.write("# the voice profile a device sends (the mean of its edge model's clip_profile outputs); without one,\n"
                "# the training voices' average\n")
        f.write("inputs:\n  voice_profile:\n    default: [" + ", ".join(repr(float(v)) for v in profile) + "]\n")

    edge_path = os.path.join(out, "edge", "digits-edge", "model.onnx")
    edge = onnx.load(edge_path)
    floored = floor_output(edge.graph)
    edge.graph.node.extend([
        helper.make_node("ReduceMean", [floored], ["clip_band_means"], name="clip_band_means", axes=[2], keepdims=0),
        helper.make_node("ReduceMean", ["clip_band_means"], ["clip_level"], name="clip_level", axes=[1], keepdims=1),
        helper.make_node("Sub", ["clip_band_means", "clip_level"], ["clip_profile"], name="clip_profile"),
    ])
    edge.graph.output.append(helper.make_tensor_value_info("clip_profile", TensorProto.FLOAT, ["batch", N_MELS]))
    onnx.checker.check_model(edge)
    onnx.save(edge, edge_path)
    record_recipe(out, "device_profile", True)


def floor_output(graph):
    floors = [n for n in graph.node if n.op_type == "Max"]
    assert len(floors) == 1, "the log-mel floor is the graph's one Max"
    return floors[0].output[0]


def profile_input(cloud):
    """Gives a cloud model's graph (an onnx.ModelProto, changed in place) the input voice_profile
    [batch, 40], removed from the floored log-mel image instead of its fixed profile; returns the fixed one."""
    from onnx import TensorProto, helper, numpy_helper

    floored = floor_output(cloud.graph)
    constants = {i.name: i for i in cloud.graph.initializer}
    subs = [n for n in cloud.graph.node if n.op_type == "Sub" and n.input[0] == floored and n.input[1] in constants
            and tuple(constants[n.input[1]].dims) == (1, N_MELS, 1)]
    assert len(subs) == 1, "the fixed profile is removed from the floored image by one Sub"
    fixed = constants[subs[0].input[1]]
    profile = numpy_helper.to_array(fixed).reshape(-1)
    subs[0].input[1] = "voice_profile_column"
    if not any(fixed.name in n.input for n in cloud.graph.node):
        cloud.graph.initializer.remove(fixed)
    cloud.graph.initializer.append(numpy_helper.from_array(np.array([2], dtype=np.int64), "voice_profile_axes"))
    cloud.graph.node.insert(0, helper.make_node("Unsqueeze", ["voice_profile", "voice_profile_axes"],
                                                ["voice_profile_column"], name="voice_profile_to_column"))
    cloud.graph.input.append(helper.make_tensor_value_info("voice_profile", TensorProto.FLOAT, ["batch", N_MELS]))
    return profile


def add_teachers(out, extra, example):
    """Adds the extra teachers (train_extra_teachers) to the cloud model exported in out: its graph
    then answers the average of all its teachers' probabilities, each teacher weighing the same (the
    first ones' average weighs TEACHERS, the extra ones' EXTRA_TEACHERS). The extra teachers' graph is
    exported as the first one's was (with the input voice_profile when it has one) and joined beside
    it, sharing its inputs. Runs on a folder export_all wrote."""
    import onnx
    from onnx import TensorProto, compose, helper

    cloud_path = os.path.join(out, "cloud", "digits-cloud", "model.onnx")
    cloud = onnx.load(cloud_path)
    assert all(i.name != "view_speeds" for i in cloud.graph.input), "add the teachers before the speed views"
    if any(n.name == "extra_teachers_probs" for n in cloud.graph.node):
        raise SystemExit(f"{cloud_path} has its extra teachers already")
    with tempfile.TemporaryDirectory(prefix="hybridge-teachers-") as folder:
        path = os.path.join(folder, "model.onnx")
        export(extra, example, path, "audio", ["probs"], "")
        added = onnx.load(path)
    inputs = [i.name for i in cloud.graph.input]
    if "voice_profile" in inputs:
        profile_input(added)
    added = compose.add_prefix(added, "extra_")
    first, more = TEACHERS, len(extra.members)
    for node in cloud.graph.node:
        node.output[:] = ["first_teachers_probs" if o == "probs" else o for o in node.output]
    nodes = [helper.make_node("Identity", [name], ["extra_" + name], name="extra_" + name + "_in") for name in inputs]
    nodes += list(added.graph.node)
    weights = [helper.make_tensor("first_teachers_weight", TensorProto.FLOAT, [], [first / (first + more)]),
               helper.make_tensor("extra_teachers_weight", TensorProto.FLOAT, [], [more / (first + more)])]
    nodes += [helper.make_node("Mul", ["first_teachers_probs", "first_teachers_weight"], ["first_teachers_share"],
                               name="first_teachers_share"),
              helper.make_node("Mul", ["extra_probs", "extra_teachers_weight"], ["extra_teachers_share"],
                               name="extra_teachers_share"),
              helper.make_node("Add", ["first_teachers_share", "extra_teachers_share"], ["probs"],
                               name="extra_teachers_probs")]
    cloud.graph.node.extend(nodes)
    cloud.graph.initializer.extend(list(added.graph.initializer) + weights)
    onnx.checker.check_model(cloud)
    onnx.save(cloud, cloud_path)
    record_recipe(out, "extra_teachers", more)


def speed_input(path):
    """Gives the model at path (an exported graph taking audio) an input speed [batch, 1]: its audio is
    played that many times as fast (SpeedView) before anything else reads it; its config.yaml gets the
    input's default, 1 (the audio as it is). Idempotent."""
    import onnx
    from onnx import compose

    model = onnx.load(path)
    if any(i.name in ("speed", "view_speeds") for i in model.graph.input):  # done already (view_inputs after it)
        if positions_in_graph(model):
            onnx.save(model, path)
        return
    with tempfile.TemporaryDirectory(prefix="hybridge-speed-") as folder:
        exported = os.path.join(folder, "model.onnx")
        torch.onnx.export(SpeedView(), (torch.zeros(2, SAMPLES), torch.ones(2, 1)), exported,
                          input_names=["audio", "speed"], output_names=["played"],
                          dynamic_axes={"audio": {0: "batch"}, "speed": {0: "batch"}, "played": {0: "batch"}},
                          opset_version=17, do_constant_folding=True)
        view = compose.add_prefix(onnx.load(exported), "speed_view_")
    for node in view.graph.node:
        node.input[:] = [{"speed_view_audio": "audio", "speed_view_speed": "speed"}.get(i, i) for i in node.input]
    for node in model.graph.node:
        node.input[:] = ["speed_view_played" if i == "audio" else i for i in node.input]
    nodes = list(view.graph.node) + list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    model.graph.initializer.extend(view.graph.initializer)
    model.graph.input.extend([i for i in view.graph.input if i.name == "speed_view_speed"])
    model.graph.input[-1].name = "speed"
    positions_in_graph(model)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    config = os.path.join(os.path.dirname(path), "config.yaml")
    with open(config) as f:
        has_inputs = "\ninputs:\n" in f.read()  # device_profile's block, the file's last
    with open(config, "a") as f:
        f.write("  # how many times as fast the audio is played before the model hears it\n" if has_inputs else
                "# how many times as fast the audio is played before the model hears it\ninputs:\n")
        f.write("  speed:\n    default: [1.0]\n")


def positions_in_graph(model):
    """SpeedView's sample positions (0 .. SAMPLES - 1, and the same plus a half, in double precision)
    are constants of SAMPLES values in the exported graph, 128 KB in all: computes them with Range
    instead, to the same values. Returns whether anything changed."""
    from onnx import helper, numpy_helper

    changed = False
    nodes = []
    for node in model.graph.node:
        value = node.attribute[0].t if node.op_type == "Constant" and len(node.attribute) == 1 \
            and node.attribute[0].name == "value" else None
        array = numpy_helper.to_array(value) if value is not None else None
        if array is not None and array.dtype == np.float64 and array.shape == (1, SAMPLES) \
                and np.array_equal(array[0], np.arange(SAMPLES) + array[0, 0]):
            name = node.output[0]
            start, limit, delta, axes = (name + "_start", name + "_limit", name + "_delta", name + "_axes")
            nodes += [
                helper.make_node("Constant", [], [start], value=numpy_helper.from_array(np.array(array[0, 0]), start)),
                helper.make_node("Constant", [], [limit], value=numpy_helper.from_array(np.array(array[0, 0] + SAMPLES), limit)),
                helper.make_node("Constant", [], [delta], value=numpy_helper.from_array(np.array(1.0), delta)),
                helper.make_node("Constant", [], [axes], value=numpy_helper.from_array(np.array([0], dtype=np.int64), axes)),
                helper.make_node("Range", [start, limit, delta], [name + "_range"], name=name + "_range"),
                helper.make_node("Unsqueeze", [name + "_range", axes], [name], name=name + "_row")]
            changed = True
        else:
            nodes.append(node)
    if changed:
        del model.graph.node[:]
        model.graph.node.extend(nodes)
    return changed


def view_inputs(path):
    """Makes the cloud model at path (inputs audio, voice_profile and speed: device_profile's and
    speed_input's) answer the average of several plays of each clip: inputs view_speeds [batch, views]
    and view_profiles [batch, views, 40] take the place of speed and voice_profile (a speed and the
    voice profile heard at it, for each view; as many views as a request sends), and the graph runs
    each clip's views as rows of one batch and averages their probabilities. Its config.yaml's defaults
    are one view, speed 1 and the fixed profile: a request without them is answered as before, at the
    same cost. Idempotent."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(path)
    names = [i.name for i in model.graph.input]
    if "view_speeds" in names:
        return
    assert {"audio", "speed", "voice_profile"} <= set(names), "the model needs --device-profile and --speed-input first"
    inner = {"audio": "views_audio", "speed": "views_speed", "voice_profile": "views_profile"}
    for node in model.graph.node:
        node.input[:] = [inner.get(i, i) for i in node.input]
        node.output[:] = ["views_probs" if o == "probs" else o for o in node.output]
    model.graph.initializer.extend([
        numpy_helper.from_array(np.array([1], dtype=np.int64), "views_axis"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "views_one"),
        numpy_helper.from_array(np.array([-1], dtype=np.int64), "views_any"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "views_two"),
        numpy_helper.from_array(np.array([len(LABELS)], dtype=np.int64), "views_labels"),
        numpy_helper.from_array(np.array([-1, SAMPLES], dtype=np.int64), "views_audio_shape"),
        numpy_helper.from_array(np.array([-1, 1], dtype=np.int64), "views_speed_shape"),
        numpy_helper.from_array(np.array([-1, N_MELS], dtype=np.int64), "views_profile_shape")])
    front = [
        # how many views this request sends: view_speeds' second dimension
        helper.make_node("Shape", ["view_speeds"], ["views_speeds_shape"], name="views_speeds_shape"),
        helper.make_node("Slice", ["views_speeds_shape", "views_one", "views_two"], ["views_count"], name="views_count"),
        helper.make_node("Concat", ["views_one", "views_count", "views_one"], ["views_repeats"], name="views_repeats", axis=0),
        helper.make_node("Concat", ["views_any", "views_count", "views_labels"], ["views_probs_shape"],
                         name="views_probs_shape", axis=0),
        helper.make_node("Unsqueeze", ["audio", "views_axis"], ["views_audio_once"], name="views_audio_once"),
        helper.make_node("Tile", ["views_audio_once", "views_repeats"], ["views_audio_each"], name="views_audio_each"),
        helper.make_node("Reshape", ["views_audio_each", "views_audio_shape"], ["views_audio"], name="views_audio"),
        helper.make_node("Reshape", ["view_speeds", "views_speed_shape"], ["views_speed"], name="views_speed"),
        helper.make_node("Reshape", ["view_profiles", "views_profile_shape"], ["views_profile"], name="views_profile")]
    back = [
        helper.make_node("Reshape", ["views_probs", "views_probs_shape"], ["views_probs_each"], name="views_probs_each"),
        helper.make_node("ReduceMean", ["views_probs_each"], ["probs"], name="views_mean", axes=[1], keepdims=0)]
    nodes = front + list(model.graph.node) + back
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    kept = [i for i in model.graph.input if i.name == "audio"]
    del model.graph.input[:]
    model.graph.input.extend(kept + [
        helper.make_tensor_value_info("view_speeds", TensorProto.FLOAT, ["batch", "views"]),
        helper.make_tensor_value_info("view_profiles", TensorProto.FLOAT, ["batch", "views", N_MELS])])
    onnx.checker.check_model(model)
    onnx.save(model, path)
    config = os.path.join(os.path.dirname(path), "config.yaml")
    with open(config) as f:
        text = f.read()
    head, block = text.split("\ninputs:\n")[0], text.split("\ninputs:\n")[1]
    profile = block.split("voice_profile:\n    default: [")[1].split("]")[0]
    head = head.rsplit("\n# the voice profile a device sends", 1)[0]
    with open(config, "w") as f:
        f.write(head + "\n# each clip is heard at these speeds with these voice profiles, one view each (a device sends its\n"
                "# user's: the speeds its edge model is surest at and the mean of its clip_profile at each), and the\n"
                "# probabilities averaged; without them, once as it is with the training voices' average\ninputs:\n")
        f.write("  view_speeds:\n    default: [1.0]\n")
        f.write("  view_profiles:\n    default: [" + profile + "]\n")


def speed_views(out):
    """Lets a device pick the speeds its user is heard best at, in the exported graphs (after
    device_profile): the edge model gains an input speed [batch, 1] (speed_input), so that a device
    runs a clip at several speeds in one call and learns at which its edge model is surest and what
    profile its user has at each; the cloud model answers the average of the views a device sends
    (view_inputs: view_speeds [batch, views], view_profiles [batch, views, 40]). Without them both
    answer as before, at the same cost. Runs on a folder export_all wrote; idempotent."""
    speed_input(os.path.join(out, "edge", "digits-edge", "model.onnx"))
    cloud = os.path.join(out, "cloud", "digits-cloud", "model.onnx")
    speed_input(cloud)
    view_inputs(cloud)
    record_recipe(out, "speed_views", True)


def half_link(out):
    """Makes the split's link half precision in the exported graphs: the edge model casts its
    embedding output to FP16 as its last step, and the head casts its FP16 input back to FP32 as
    its first; in between, half the bytes cross the network. Runs on a folder export_all wrote."""
    import onnx
    from onnx import TensorProto, helper

    edge_path = os.path.join(out, "edge", "digits-edge", "model.onnx")
    edge = onnx.load(edge_path)
    if any(o.name == "embedding" and o.type.tensor_type.elem_type == TensorProto.FLOAT16 for o in edge.graph.output):
        return  # made half precision already
    for node in edge.graph.node:
        node.output[:] = ["embedding_fp32" if o == "embedding" else o for o in node.output]
    edge.graph.node.append(helper.make_node("Cast", ["embedding_fp32"], ["embedding"], name="embedding_to_fp16",
                                            to=TensorProto.FLOAT16))
    for output in edge.graph.output:
        if output.name == "embedding":
            output.type.tensor_type.elem_type = TensorProto.FLOAT16
    onnx.checker.check_model(edge)
    onnx.save(edge, edge_path)

    head_path = os.path.join(out, "cloud", "digits-head", "model.onnx")
    head = onnx.load(head_path)
    for node in head.graph.node:
        node.input[:] = ["embedding_fp32" if i == "embedding" else i for i in node.input]
    head.graph.node.insert(0, helper.make_node("Cast", ["embedding"], ["embedding_fp32"], name="embedding_to_fp32",
                                               to=TensorProto.FLOAT))
    for graph_input in head.graph.input:
        if graph_input.name == "embedding":
            graph_input.type.tensor_type.elem_type = TensorProto.FLOAT16
    onnx.checker.check_model(head)
    onnx.save(head, head_path)
    record_recipe(out, "link", "fp16")


def record_recipe(out, key, value):
    """Sets one recipe field in the folder's training.json, when it has one (a folder export_all wrote)."""
    record = os.path.join(out, "training.json")
    if os.path.exists(record):
        with open(record) as f:
            results = json.load(f)
        results["recipe"][key] = value
        with open(record, "w") as f:
            json.dump(results, f, indent=2)
            f.write("\n")


def recipe():
    return dict(RECIPE, speed_range=SPEED_RANGE, edge=EDGE_SIZE, cloud=CLOUD_SIZE, teachers=TEACHERS, extra_teachers=EXTRA_TEACHERS, mixup=MIXUP,
                stretch=STRETCH, student_stretch=STUDENT_STRETCH, warp=WARP, eq=EQ, reverb=REVERB, synthetic_weight=SYNTHETIC_WEIGHT, lifter=LIFTER, tempo_teachers=TEMPO_TEACHERS, seed=SEED,
                head_from=HEAD_FROM, link=LINK, synthetic=SYNTHETIC,
                device_profile=DEVICE_PROFILE and RECIPE["voice-normalisation"],
                speed_views=SPEED_VIEWS and DEVICE_PROFILE and RECIPE["voice-normalisation"],
                **({"student_profile": STUDENT_PROFILE} if RECIPE["voice-normalisation"] else {}))


def reseed():
    """Seeds PyTorch's and NumPy's global generators; returns a generator of its own for the recipe's draws."""
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    return torch.Generator().manual_seed(SEED)


def teachers_file(folder, holdout):
    """Where --save-teachers keeps, and --load-teachers finds, a split's teachers."""
    return os.path.join(folder, f"teachers-{holdout or 'official'}-{SEED}.pt")


def run_teachers(data, holdout, epochs):
    """Trains the cloud model only and prints its test accuracy and confusions; exports nothing."""
    generator = reseed()  # as run() does, so that the teachers are the whole recipe's
    train_x, train_y, test_x, test_y, voices = split(data, holdout)
    started = time.time()
    cloud = train_teachers(train_x, train_y, epochs, generator, voice_profiles(train_x, voices))
    # what --load-teachers needs to go on as the whole recipe would: the teachers and the random generators' states
    saved = {"teachers": cloud.state_dict(), "generator": generator.get_state(), "torch": torch.get_rng_state(),
             "numpy": np.random.get_state()}
    with torch.no_grad():
        members = [(m(test_x).argmax(1) == test_y).float().mean().item() for m in cloud.members]
        predicted = cloud(test_x).argmax(1)
    confusions = {}
    for truth, guess in zip(test_y.tolist(), predicted.tolist()):
        if truth != guess:
            confusions[f"{truth}->{guess}"] = confusions.get(f"{truth}->{guess}", 0) + 1
    result = {"held_out_speaker": holdout, "epochs": epochs, "recipe": recipe(),
              "cloud": (predicted == test_y).float().mean().item(), "members": members,
              "train_seconds": round(time.time() - started),
              "confusions": dict(sorted(confusions.items(), key=lambda kv: -kv[1]))}
    print("teachers:", json.dumps(result), flush=True)
    if SAVE_TEACHERS:
        torch.save(saved, teachers_file(SAVE_TEACHERS, holdout))
    if TEST_TIME_VIEWS:
        print("test-time views:", json.dumps(test_time_views(cloud, test_x, test_y)), flush=True)


def test_time_views(cloud, x, y):
    """The cloud model's accuracy when it averages its members over several views of each clip:
    tempo (time axis stretched or squeezed) and speed (resampled audio)."""
    tempo_sets = {"1": [1.0], "0.8-1.25": [0.8, 1.0, 1.25], "0.7-1.4 (5)": [1 / 1.4, 1 / 1.2, 1.0, 1.2, 1.4],
                  "squeeze 0.7-1": [0.7, 0.85, 1.0], "0.6-1.6 (5)": [1 / 1.6, 1 / 1.25, 1.0, 1.25, 1.6]}
    speed_sets = {"1": [1.0], "0.92-1.08": [0.92, 1.0, 1.08], "0.88-1.12": [0.88, 1.0, 1.12]}
    cache = {}
    with torch.no_grad():
        def probs(speed, tempo):
            key = (speed, tempo)
            if key not in cache:
                image = cloud.members[0].front(speed_view(x, speed) if speed != 1.0 else x)
                view = tempo_view(image, tempo) if tempo != 1.0 else image
                cache[key] = cloud.from_features(view)
            return cache[key]
        out = {}
        for sname, speeds in speed_sets.items():
            for tname, tempos in tempo_sets.items():
                p = torch.stack([probs(s, t) for s in speeds for t in tempos]).mean(0)
                out[f"speed {sname} x tempo {tname}"] = round((p.argmax(1) == y).float().mean().item() * 100, 1)
    return out


def run(data, holdout, out, epochs):
    """Trains the recipe on one split and exports it to out; returns PyTorch's own test figures."""
    generator = reseed()
    train_x, train_y, test_x, test_y, voices = split(data, holdout)
    what = "official split" if holdout is None else f"held-out speaker {holdout}"
    print(f"{what}: train {len(train_x)} clips, test {len(test_x)} clips", flush=True)
    started = time.time()
    profiles = voice_profiles(train_x, voices)
    cloud = None
    if LOAD_TEACHERS:
        cloud = Teachers([teacher_network(k) for k in range(TEACHERS)])
        saved = torch.load(teachers_file(LOAD_TEACHERS, holdout))
        cloud.load_state_dict(saved["teachers"])
        cloud.eval()
        # the random generators as the teachers' training left them, so that the students come out as
        # they would after training the teachers in this run
        generator.set_state(saved["generator"])
        torch.set_rng_state(saved["torch"])
        np.random.set_state(saved["numpy"])
        print(f"teachers loaded from {teachers_file(LOAD_TEACHERS, holdout)}", flush=True)
    first, edge, head = train_all(train_x, train_y, epochs, generator, profiles, cloud)
    extra = train_extra_teachers(train_x, train_y, epochs, profiles)
    cloud = first if extra is None else Teachers(list(first.members) + list(extra.members))
    results = {
        "split": "official" if holdout is None else "leave-one-speaker-out",
        "held_out_speaker": holdout,
        "epochs": epochs,
        "recipe": recipe(),
        "train_seconds": round(time.time() - started),
        "cloud": accuracy(cloud, test_x, test_y),
        "edge": accuracy(lambda x: edge(x)[0], test_x, test_y),
        "head": accuracy(lambda x: head(edge(x)[1]), test_x, test_y),
        "routed": routed(cloud, edge, head, test_x, test_y),
        "parameters": {
            "cloud": sum(p.numel() for p in cloud.parameters()),
            "edge": sum(p.numel() for p in edge.parameters()),
            "head": sum(p.numel() for p in head.parameters()),
        },
    }
    print(f"{what}: test accuracy (PyTorch):", json.dumps(results), flush=True)
    export_all(first, edge, head, test_x[:2], out, results, extra)
    return results


def extra_teachers_file(folder, holdout):
    """Where --save-teachers keeps, and --extra-teachers-only finds, a split's extra teachers."""
    return os.path.join(folder, f"extra-teachers-{holdout or 'official'}-{SEED}.pt")


def run_extra_teachers(data, holdout, out, epochs):
    """Trains a split's extra teachers only (or loads them, when --save-teachers kept them) and adds
    them to the cloud model exported in out, as a whole run with --extra-teachers would have."""
    train_x, train_y, test_x, test_y, voices = split(data, holdout)
    started = time.time()
    kept = SAVE_TEACHERS and extra_teachers_file(SAVE_TEACHERS, holdout)
    if kept and os.path.exists(kept):
        extra = Teachers([teacher_network(k) for k in range(TEACHERS, TEACHERS + EXTRA_TEACHERS)])
        extra.load_state_dict(torch.load(kept))
        extra.eval()
        print(f"extra teachers loaded from {kept}", flush=True)
    else:
        extra = train_extra_teachers(train_x, train_y, epochs, voice_profiles(train_x, voices))
        if kept:
            torch.save(extra.state_dict(), kept)
    with torch.no_grad():
        members = [(m(test_x).argmax(1) == test_y).float().mean().item() for m in extra.members]
    result = {"added_by": "--extra-teachers-only", "cloud": accuracy(extra, test_x, test_y), "members": members,
              "train_seconds": round(time.time() - started)}
    print("extra teachers:", json.dumps(dict(result, held_out_speaker=holdout)), flush=True)
    add_teachers(out, extra, test_x[:2])
    record = os.path.join(out, "training.json")
    with open(record) as f:
        results = json.load(f)
    # the PyTorch figures of the whole cloud model need the first teachers, which only the graph holds now
    results["extra_teachers"] = dict(result, note="cloud and routed above are the first teachers' figures; "
                                                  "the extra teachers' own are here")
    results["parameters"]["cloud"] += sum(p.numel() for p in extra.parameters())
    with open(record, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")


def main():
    global SPEED_RANGE, EDGE_SIZE, CLOUD_SIZE, TEACHERS, EXTRA_TEACHERS, MIXUP, STRETCH, STUDENT_STRETCH, WARP, EQ, REVERB, LIFTER, TEMPO_TEACHERS, SEED
    global HEAD_FROM, EMBED_SHAPE, STUDENT_PROFILE, LINK, SAVE_TEACHERS, LOAD_TEACHERS, DEVICE_PROFILE, SPEED_VIEWS, TEST_TIME_VIEWS, SYNTHETIC, SYNTHETIC_CLIPS, SYNTHETIC_WEIGHT
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.path.join(here, "..", "..", "..", "shared", "datasets", "fsdd", "recordings"))
    parser.add_argument("--out", default=None,
                        help="where the models go (default: repository/, or loso/ with --loso or --holdout)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--loso", action="store_true",
                        help="leave-one-speaker-out: train on four speakers, test on the fifth, every fold")
    parser.add_argument("--holdout", choices=SPEAKERS, action="append",
                        help="leave-one-speaker-out for this speaker only (repeatable)")
    parser.add_argument("--without", choices=sorted(RECIPE), action="append", default=[],
                        help="leave a part of the recipe out (repeatable)")
    parser.add_argument("--with", dest="including", choices=sorted(RECIPE), action="append", default=[],
                        help="put a part of the recipe that is off by default in (repeatable)")
    parser.add_argument("--synthetic", metavar="FOLDER", default="make",
                        help="extra training voices made by synthetic.py, in FOLDER, made now with 'make' (the default: "
                             "needs espeak-ng, flite and sox), or 'none' (every fold trains on them; none is a test voice)")
    parser.add_argument("--synthetic-share", type=float, default=0.5,
                        help="train on this share of the synthetic voices (a draw with the seed)")
    parser.add_argument("--synthetic-weight", type=float, default=SYNTHETIC_WEIGHT,
                        help="a synthetic clip's weight in the teachers' loss (a recording's is 1)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--speed-range", type=float, default=SPEED_RANGE)
    parser.add_argument("--edge", choices=["small", "wide", "wider"], default=EDGE_SIZE)
    parser.add_argument("--cloud", choices=["standard", "wide", "bands", "order"], default=CLOUD_SIZE)
    parser.add_argument("--teachers", type=int, default=TEACHERS, help="how many teachers the students learn from")
    parser.add_argument("--extra-teachers", type=int, default=EXTRA_TEACHERS,
                        help="how many more teachers the cloud model averages, trained after the students")
    parser.add_argument("--extra-teachers-only", action="store_true",
                        help="train only the extra teachers and add them to the cloud model exported in --out")
    parser.add_argument("--mixup", type=float, default=MIXUP, help="mixup's Beta(a, a) for the teachers (0: off)")
    parser.add_argument("--stretch", type=float, default=STRETCH,
                        help="tempo perturbation for the teachers: time axis stretched by up to 1 + this")
    parser.add_argument("--student-stretch", type=float, default=STUDENT_STRETCH,
                        help="tempo perturbation for the edge model and the head (the teacher labels the same image)")
    parser.add_argument("--tempo-teachers", type=int, default=TEMPO_TEACHERS,
                        help="the last N teachers see the tempo-normalised image")
    parser.add_argument("--seed", type=int, default=SEED,
                        help="the seed of everything random (the shipped models: the default); to judge a recipe on several")
    parser.add_argument("--lifter", type=int, default=LIFTER,
                        help="cepstral smoothing: keep the log-mel image's first N cepstra (0: off)")
    parser.add_argument("--warp", type=float, default=WARP, help="frequency warping for the teachers: 1 +- this")
    parser.add_argument("--eq", type=float, default=EQ,
                        help="the share of the teachers' training clips heard through a random microphone response (0: off)")
    parser.add_argument("--reverb", type=float, default=REVERB,
                        help="the share of the teachers' training clips heard in a synthetic room (0: off)")
    parser.add_argument("--head-from", choices=["embedding", "prepool"], default=HEAD_FROM,
                        help="what split routes send the cloud head: the edge's embedding, or its features before the last pool")
    parser.add_argument("--link", choices=["fp16", "fp32"], default=LINK,
                        help="the datatype of what split routes send the cloud head")
    parser.add_argument("--device-profile", metavar="FOLDER",
                        help="give models already exported to FOLDER the device's voice profile (device_profile), and exit")
    parser.add_argument("--without-device-profile", action="store_true",
                        help="export the models without the device's voice profile")
    parser.add_argument("--speed-input", metavar="MODEL",
                        help="give an exported model.onnx (taking audio) an input speed [batch, 1], default 1 in its config.yaml, and exit")
    parser.add_argument("--view-inputs", metavar="MODEL",
                        help="make a cloud model.onnx with --speed-input answer the average of three views (view_speeds, view_profiles), and exit")
    parser.add_argument("--speed-views", metavar="FOLDER",
                        help="give models already exported to FOLDER (with the device profile) the speed views (speed_views), and exit")
    parser.add_argument("--without-speed-views", action="store_true",
                        help="export the models without the speed views")
    parser.add_argument("--half-link", metavar="FOLDER",
                        help="make the split's link FP16 in models already exported to FOLDER, and exit")
    parser.add_argument("--test-time-views", action="store_true",
                        help="with --teachers-only: also print the cloud model's accuracy averaged over tempo and speed views")
    parser.add_argument("--student-profile", choices=["voice", "fixed", "clip"], default=STUDENT_PROFILE,
                        help="with voice normalisation: the profile the edge model and the head learn on (clip: none, "
                             "their front end removes the clip's own band means)")
    parser.add_argument("--save-teachers", metavar="FOLDER",
                        help="with --teachers-only: keep the teachers there, for --load-teachers; with --extra-teachers-only: keep the extra ones there, or load them when they are")
    parser.add_argument("--load-teachers", metavar="FOLDER",
                        help="the cloud model's teachers as --save-teachers kept them (same recipe and seed), instead of training them")
    parser.add_argument("--official", action="store_true", help="with --teachers-only: the official split")
    parser.add_argument("--teachers-only", action="store_true",
                        help="train the cloud model only and print its accuracy and confusions (exports nothing)")
    args = parser.parse_args()
    if args.speed_input:
        speed_input(args.speed_input)
        return
    if args.view_inputs:
        view_inputs(args.view_inputs)
        return
    if args.half_link:
        half_link(args.half_link)
        return
    if args.speed_views:
        speed_views(args.speed_views)
        return
    if args.device_profile:
        device_profile(args.device_profile)
        return
    DEVICE_PROFILE = not args.without_device_profile
    SPEED_VIEWS = not args.without_speed_views
    LINK = args.link
    SPEED_RANGE = args.speed_range
    TEACHERS, MIXUP, STRETCH, WARP = args.teachers, args.mixup, args.stretch, args.warp
    EXTRA_TEACHERS = args.extra_teachers
    LIFTER = args.lifter
    REVERB = args.reverb
    EQ = args.eq
    SYNTHETIC_WEIGHT = args.synthetic_weight
    SAVE_TEACHERS = args.save_teachers
    LOAD_TEACHERS = args.load_teachers
    STUDENT_PROFILE = args.student_profile
    TEST_TIME_VIEWS = args.test_time_views
    TEMPO_TEACHERS = args.tempo_teachers
    SEED = args.seed
    STUDENT_STRETCH = args.student_stretch
    EDGE_SIZE = args.edge
    HEAD_FROM = args.head_from
    if HEAD_FROM == "embedding":
        EMBED_SHAPE = (24, 5, 9)
    CLOUD_SIZE = args.cloud
    for part in args.without:
        RECIPE[part] = False
    for part in args.including:
        RECIPE[part] = True
    torch.set_num_threads(args.threads)
    data = load_all(args.data)
    if args.synthetic != "none":
        if args.synthetic == "make":
            import synthetic  # beside this file
            with tempfile.TemporaryDirectory(prefix="hybridge-synthetic-") as folder:
                synthetic.main(folder)
                extra = load_all(folder)  # into memory: the folder goes
        else:
            extra = load_all(args.synthetic)
        if args.synthetic_share < 1:
            voices = sorted(set(extra[2]))
            kept = set(np.random.default_rng(SEED).choice(voices, round(args.synthetic_share * len(voices)), replace=False))
            keep = np.array([v in kept for v in extra[2]])
            extra = (extra[0][torch.tensor(keep)], extra[1][torch.tensor(keep)], extra[2][keep], extra[3][keep])
        assert not set(extra[2]) & set(SPEAKERS) and (extra[3] >= 5).all(), "synthetic voices must not be test data"
        data = (torch.cat([data[0], extra[0]]), torch.cat([data[1], extra[1]]),
                np.concatenate([data[2], extra[2]]), np.concatenate([data[3], extra[3]]))
        SYNTHETIC_CLIPS = len(extra[1])
        SYNTHETIC = f"{len(extra[1])} clips of {len(set(extra[2]))} voices (synthetic.py)"
        print(f"{SYNTHETIC} added to the training data", flush=True)
    if args.teachers_only:
        for speaker in [None] if args.official else args.holdout or SPEAKERS:
            run_teachers(data, speaker, args.epochs)
        return
    if args.extra_teachers_only:
        assert EXTRA_TEACHERS > 0, "--extra-teachers-only needs --extra-teachers"
        if args.loso or args.holdout:
            for speaker in args.holdout or SPEAKERS:
                run_extra_teachers(data, speaker, os.path.join(args.out or os.path.join(here, "loso"), speaker), args.epochs)
        else:
            run_extra_teachers(data, None, args.out or os.path.join(here, "repository"), args.epochs)
        return
    if args.loso or args.holdout:
        out = args.out or os.path.join(here, "loso")
        for speaker in args.holdout or SPEAKERS:
            run(data, speaker, os.path.join(out, speaker), args.epochs)
    else:
        run(data, None, args.out or os.path.join(here, "repository"), args.epochs)


if __name__ == "__main__":
    main()
