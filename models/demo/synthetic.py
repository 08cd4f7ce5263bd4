#!/usr/bin/env python3
"""Synthetic voices saying the ten digits, made with Debian's speech synthesisers, as extra training
voices for the demo models (train.py --synthetic FOLDER); never used as test data.

    apt-get install espeak-ng flite sox
    /usr/bin/python3 models/demo/synthetic.py /tmp/hybridge-synthetic

Each voice is an espeak-ng accent with one of its voice variants, or a flite voice; each says every
digit once, at a speaking rate and pitch drawn from a fixed seed, so that a second run makes the same
files with the same package versions. The files are named as the dataset's: <digit>_synth-<voice>_<index>.wav,
8 kHz mono PCM16, silence trimmed at both ends as the dataset's recordings are.
"""
import os
import random
import subprocess
import sys
import tempfile

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
ACCENTS = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc", "en-gb-x-gbclan", "en-gb-x-gbcwmd"]
VARIANTS = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt3", "grandpa", "Andy"]
FLITE = ["kal", "kal16", "awb", "rms", "slt"]
FLITE_RENDITIONS = 4
SEED = 20261206


def to_dataset_format(source, target):
    """8 kHz mono PCM16, silence below 1% of full scale trimmed at both ends; -R seeds sox's dither,
    so that the same input makes the same file."""
    subprocess.run(["sox", "-R", source, "-r", "8000", "-c", "1", "-b", "16", target,
                    "silence", "1", "0.01", "1%", "reverse", "silence", "1", "0.01", "1%", "reverse"],
                   check=True, capture_output=True)


def main(out):
    os.makedirs(out, exist_ok=True)
    draw = random.Random(SEED)
    made = 0
    with tempfile.TemporaryDirectory() as work:
        raw = os.path.join(work, "raw.wav")
        for accent in ACCENTS:
            for variant in VARIANTS:
                voice = f"synth-{accent}-{variant}".replace("_", "-")
                for digit, word in enumerate(WORDS):
                    rate, pitch = draw.randint(110, 210), draw.randint(15, 85)
                    subprocess.run(["espeak-ng", "-v", f"{accent}+{variant}", "-s", str(rate), "-p", str(pitch),
                                    "-w", raw, word], check=True, capture_output=True)
                    to_dataset_format(raw, os.path.join(out, f"{digit}_{voice}_100.wav"))
                    made += 1
        for name in FLITE:
            voice = f"synth-flite-{name}"
            for digit, word in enumerate(WORDS):
                for k in range(FLITE_RENDITIONS):
                    stretch = round(draw.uniform(0.75, 1.5), 2)
                    subprocess.run(["flite", "-voice", name, "--setf", f"duration_stretch={stretch}",
                                    "-t", word, "-o", raw], check=True, capture_output=True)
                    to_dataset_format(raw, os.path.join(out, f"{digit}_{voice}_{100 + k}.wav"))
                    made += 1
    print(f"{made} clips in {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(tempfile.gettempdir(), "hybridge-synthetic"))
