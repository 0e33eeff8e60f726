"""Codec benchmark: ``python benchmarks/codec_bench.py [options]`` = ``swansphere bench codec``.

Times every codec side by side in one run (encode/decode real-time factor, one streaming
decode step) and, for trained codecs and the training-free baselines, measures round-trip
quality on held-out synthesised FOA scenes (per-channel SI-SDR, Δangular). See
docs/codecs.md for the recorded figures and the training command behind them.
"""

from __future__ import annotations

import sys

from swansphere.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "codec", *sys.argv[1:]]))
