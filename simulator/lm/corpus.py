"""Shipped corpora: one plain-text file per market segment, read as bytes.

Byte-level tokens (vocabulary 256) put every segment, Chinese included, in the same unit:
bits per byte (bpb). Each file is split once, contiguously: the first 90% is the training split,
the last 10% validates (the measurement; never seen during training). About DEV_BYTES of distinct
blocks of the training split are the development split, carved off for early stopping, and
models train on the rest (the "fit" split; see dev_split). This module needs only numpy, so
the simulation can import it without torch.
"""

from __future__ import annotations

import collections
import functools
import math
from collections.abc import Mapping, Sequence
from importlib import resources

import numpy as np

SEGMENTS: tuple[str, ...] = ("assistant", "code", "creative", "chinese")
VOCAB_SIZE = 256
VALIDATION_FRACTION = 0.10
#: Size of the development split carved from each training split (early stopping, dev_split):
#: 16 KiB = 128 evaluation windows of 128 bytes, 7.5% of the smallest (assistant) training split.
DEV_BYTES = 16_384
BLOCK_SEPARATOR = b"\n\n"
#: A segment's fit split keeps one copy of each block (dedup_fit) when repeated copies make up
#: more than this share of its bytes. Only the templated assistant corpus passes (63% of its fit
#: bytes are repeats; code 2.7%, chinese 0.8%, creative 0.1%): repeats there are what a model
#: memorises instead of learning, the over-fitting data-constrained training must avoid.
DEDUP_REPEATED_SHARE = 0.10
#: Tag hashed into the training config of mixes with a deduplicated segment (train.TrainConfig).
DEDUP_TAG = "exact-blocks-v1"


def check_segment(segment: str) -> str:
    """Return `segment` unchanged, or raise ValueError naming it when no corpus ships for it."""
    if segment not in SEGMENTS:
        raise ValueError(f"unknown segment {segment!r}; known segments: {', '.join(SEGMENTS)}")
    return segment


@functools.cache
def load_bytes(segment: str) -> np.ndarray:
    """All bytes of a segment's shipped corpus as a read-only uint8 array."""
    check_segment(segment)
    raw = resources.files("simulator.lm").joinpath("data").joinpath(f"{segment}.txt").read_bytes()
    array = np.frombuffer(raw, dtype=np.uint8)
    array.setflags(write=False)
    return array


def split(segment: str) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation): fixed contiguous split, the last 10% of the bytes validates."""
    data = load_bytes(segment)
    n_train = len(data) - int(math.ceil(len(data) * VALIDATION_FRACTION))
    return data[:n_train], data[n_train:]


def train_bytes(segment: str) -> np.ndarray:
    """The whole training split (fit + development); its byte frequencies define H_unigram."""
    return split(segment)[0]


def validation_bytes(segment: str) -> np.ndarray:
    """The validation split: the last 10% of the file, only ever used to measure."""
    return split(segment)[1]


def fit_bytes(segment: str) -> np.ndarray:
    """The bytes models are trained on: the training split minus every copy of the blocks
    chosen for the development split (see dev_split), deduplicated where it repeats most of
    itself (is_deduplicated)."""
    return _fit_split(segment)


@functools.cache
def _fit_split(segment: str) -> np.ndarray:
    fit = dev_split(segment)[0]
    return dedup_blocks(fit) if is_deduplicated(segment) else fit


def repeated_share(data: np.ndarray | bytes) -> float:
    """Share of the bytes that are second or later copies of a block (blocks end at blank
    lines): 0 for text without repeats."""
    blocks = bytes(data).split(BLOCK_SEPARATOR)
    total = sum(len(block) for block in blocks)
    distinct = sum(len(block) for block in dict.fromkeys(blocks))
    return (total - distinct) / total if total else 0.0


@functools.cache
def is_deduplicated(segment: str) -> bool:
    """Whether the segment's fit split is deduplicated (share of repeats > DEDUP_REPEATED_SHARE)."""
    return repeated_share(dev_split(segment)[0]) > DEDUP_REPEATED_SHARE


def dedup_blocks(data: np.ndarray | bytes) -> np.ndarray:
    """The first copy of every block, in order of first appearance (exact deduplication)."""
    blocks = bytes(data).split(BLOCK_SEPARATOR)
    return _frozen(BLOCK_SEPARATOR.join(dict.fromkeys(blocks)))


def fit_subset(segment: str, fraction: float = 1.0) -> np.ndarray:
    """The first `fraction` of a segment's fit split: the zoo's data axis. Prefixes, so the
    subsets are nested (the 10% subset is inside the 30% one, which is inside the whole)."""
    if not (math.isfinite(fraction) and 0 < fraction <= 1):
        raise ValueError(f"data fraction must be in (0, 1], got {fraction}")
    data = fit_bytes(segment)
    return data if fraction == 1 else data[: math.ceil(len(data) * fraction)]


def dev_bytes(segment: str) -> np.ndarray:
    """The development split (early stopping): see dev_split."""
    return dev_split(segment)[1]


@functools.cache
def dev_split(segment: str) -> tuple[np.ndarray, np.ndarray]:
    """(fit, dev), both carved from the training split and disjoint in content.

    The training split is cut into blocks at blank lines (dialogue turns, code paragraphs,
    speeches, poems). Blocks that occur once are taken from the end of the split backwards
    (then, if those run out, repeated blocks) until they hold DEV_BYTES; they form the
    development split, one copy each, and every copy of them is removed from the fit split.
    Deduplication matters: the assistant corpus repeats most of its blocks (639 distinct among
    1,756), so a contiguous development split would be ~99% text also in the fit split and
    could not detect over-fitting; its validation split is almost all new text (263 of 272
    blocks), which is what the development split should resemble.
    """
    blocks = bytes(train_bytes(segment)).split(BLOCK_SEPARATOR)
    copies = collections.Counter(blocks)
    # Blocks that occur once, from the end of the split backwards, then repeated ones: text
    # unlike anything trained on, nearest the validation split, costing the fit split least.
    distinct = sorted(dict.fromkeys(reversed(blocks)), key=lambda block: copies[block] > 1)
    chosen: set[bytes] = set()
    size = 0
    for block in distinct:
        if size >= DEV_BYTES:
            break
        if block.strip():
            chosen.add(block)
            size += len(block) + len(BLOCK_SEPARATOR)
    fit = BLOCK_SEPARATOR.join(block for block in blocks if block not in chosen)
    dev_blocks = list(dict.fromkeys(block for block in blocks if block in chosen))
    return _frozen(fit), _frozen(BLOCK_SEPARATOR.join(dev_blocks))


def _frozen(data: bytes) -> np.ndarray:
    array = np.frombuffer(data, dtype=np.uint8)
    array.setflags(write=False)
    return array


@functools.cache
def unigram_entropy(segment: str) -> float:
    """Byte-unigram cross-entropy in bits per byte: the bpb of a model that knows only byte
    frequencies. Frequencies come from the train split (add-one smoothing over all 256 byte
    values, so bytes unseen in training cost a finite amount) and are scored on the whole
    validation split, the same data and unit as the language models' bpb.
    """
    train, validation = split(segment)
    counts = np.bincount(train, minlength=VOCAB_SIZE).astype(np.float64) + 1.0
    log2_probs = np.log2(counts / counts.sum())
    return float(-log2_probs[validation].mean())


def normalise_mix(mix: Mapping[str, float]) -> dict[str, float]:
    """Validate a data mix (weights over segments) and scale it to sum to one.

    Segments with zero weight are dropped; the result is ordered as SEGMENTS so that equal
    mixes compare (and hash) equal.
    """
    if not mix:
        raise ValueError("data mix is empty")
    for segment, weight in mix.items():
        check_segment(segment)
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(
                f"weight for segment {segment!r} must be finite and >= 0, got {weight}"
            )
    total = float(sum(mix.values()))
    if total <= 0:
        raise ValueError("data mix weights sum to zero")
    return {s: float(mix[s]) / total for s in SEGMENTS if mix.get(s, 0.0) > 0}


def parse_mix(text: str) -> dict[str, float]:
    """Parse a mix written on a command line.

    Accepted: a segment name (`code`), `uniform`, or weights (`code=0.7,creative=0.3`).
    """
    text = text.strip()
    if text == "uniform":
        return {s: 1.0 / len(SEGMENTS) for s in SEGMENTS}
    if "=" not in text:
        return {check_segment(text): 1.0}
    mix: dict[str, float] = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        name = name.strip()
        try:
            weight = float(value)
        except ValueError:
            raise ValueError(f"weight for {name!r} is not a number: {value!r}") from None
        mix[check_segment(name)] = mix.get(name, 0.0) + weight
    return normalise_mix(mix)


def mix_name(mix: Mapping[str, float]) -> str:
    """Short readable name of a mix: `code`, `uniform`, or `code=0.7,creative=0.3`."""
    mix = normalise_mix(mix)
    if len(mix) == 1:
        return next(iter(mix))
    if len(mix) == len(SEGMENTS) and all(abs(w - 1 / len(SEGMENTS)) < 1e-9 for w in mix.values()):
        return "uniform"
    return ",".join(f"{s}={w:.4g}" for s, w in mix.items())


class MixedBatchSampler:
    """Seeded random training windows drawn from a data mix.

    Every row of a batch first picks a segment with probability equal to its mix weight, then a
    uniformly random window of `block_size + 1` bytes from that segment's fit split (the
    training split minus the development split), or from its first `data_fraction` (fit_subset).
    The same seed always yields the same sequence of batches. `bytes_seen` counts the training
    bytes drawn per segment (for epochs).
    """

    def __init__(
        self,
        mix: Mapping[str, float],
        block_size: int,
        batch_size: int,
        seed: int,
        data_fraction: float = 1.0,
    ):
        self.mix = normalise_mix(mix)
        self.block_size = block_size
        self.batch_size = batch_size
        self.segments = list(self.mix)
        self.weights = np.array([self.mix[s] for s in self.segments])
        self.data = [fit_subset(s, data_fraction) for s in self.segments]
        self.bytes_seen = dict.fromkeys(self.segments, 0)
        for segment, data in zip(self.segments, self.data, strict=True):
            if len(data) <= block_size + 1:
                raise ValueError(f"segment {segment!r} is shorter than one training window")
        self.rng = np.random.default_rng(seed)

    def next_batch(self) -> tuple[np.ndarray, np.ndarray]:
        """(inputs, targets), both int64 of shape (batch_size, block_size); targets are shifted."""
        choice = self.rng.choice(len(self.segments), size=self.batch_size, p=self.weights)
        windows = np.empty((self.batch_size, self.block_size + 1), dtype=np.int64)
        for row, segment_index in enumerate(choice):
            data = self.data[segment_index]
            start = int(self.rng.integers(0, len(data) - self.block_size - 1))
            windows[row] = data[start : start + self.block_size + 1]
            self.bytes_seen[self.segments[segment_index]] += self.block_size
        return windows[:, :-1], windows[:, 1:]


def evaluation_windows(data: Sequence[int] | np.ndarray, block_size: int) -> list[tuple[int, int]]:
    """Non-overlapping windows that score every byte after the first exactly once.

    Returns (start, first_scored) pairs: the window's inputs are data[start:start+block_size],
    its targets data[start+1:start+block_size+1], and only targets at positions >= first_scored
    (relative to the window) are counted. The last window is slid back to stay full length, so
    it re-reads context but never scores a byte twice.
    """
    n_targets = len(data) - 1
    if n_targets < 1:
        raise ValueError("need at least two bytes to evaluate")
    if n_targets <= block_size:
        return [(0, 0)]
    windows = [(start, 0) for start in range(0, n_targets - block_size + 1, block_size)]
    covered = windows[-1][0] + block_size
    if covered < n_targets:
        start = n_targets - block_size
        windows.append((start, covered - start))
    return windows
