"""Firm colours: one colour per firm name, the same in every page of the project.

A firm's colour comes from its name, not from its position in a run: the SHA-256 of the name
picks a slot of ``FIRM_PALETTE`` (23 qualitative colours: D3/Tableau category10 without its
grey, its light companions, and five dark tones of tab20b), so "Frontier" is the same blue in
a run's dashboard, a sweep report and a comparison page whatever other firms are there. Two
firms of one page whose names hash to the same slot are resolved deterministically: names
are placed in sorted order, each takes the first free slot along its own probe sequence
(double hashing over a prime-sized palette visits every slot), so only the later name of a
colliding pair moves, and always to the same place for the same set of names. Past 23 firms,
colours continue at hues drawn from the name's hash. The open model has its own fixed colour,
outside the palette, and so does the "other firms" fold.
"""

from __future__ import annotations

import colorsys
import hashlib
from collections.abc import Iterable

from simulator.market.open_source import OPEN_MODEL

FIRM_PALETTE: tuple[str, ...] = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#17becf",
    "#aec7e8",
    "#ffbb78",
    "#98df8a",
    "#ff9896",
    "#c5b0d5",
    "#c49c94",
    "#f7b6d2",
    "#dbdb8d",
    "#9edae5",
    "#393b79",
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
)
"""23 qualitative colours (a prime count, so every probe sequence visits every slot)."""

OPEN_MODEL_COLOR = "#4d4d4d"
"""The open model's fixed colour (dark grey) in every page, outside the firms' palette."""


def _name_hash(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode("utf-8", "surrogatepass")).digest()[:8])


def preferred_color(name: str) -> str:
    """The colour a firm gets whenever no other firm of the page hashes to the same slot."""
    if name == OPEN_MODEL:
        return OPEN_MODEL_COLOR
    return FIRM_PALETTE[_name_hash(name) % len(FIRM_PALETTE)]


def _hex(hue: float, lightness: float, saturation: float = 0.65) -> str:
    red, green, blue = colorsys.hls_to_rgb(hue, lightness, saturation)
    return f"#{round(red * 255):02x}{round(green * 255):02x}{round(blue * 255):02x}"


def firm_colors(firms: Iterable[str]) -> dict[str, str]:
    """A colour per firm: from the name's hash, collisions within ``firms`` resolved in sorted
    name order (so the result does not depend on the order ``firms`` lists them in)."""
    given = {str(firm) for firm in firms}
    colors: dict[str, str] = {OPEN_MODEL: OPEN_MODEL_COLOR} if OPEN_MODEL in given else {}
    size = len(FIRM_PALETTE)
    taken: set[int] = set()
    overflow: list[str] = []
    for name in sorted(given - {OPEN_MODEL}):
        digest = _name_hash(name)
        start, stride = digest % size, 1 + (digest // size) % (size - 1)
        slot = next(
            (s for s in ((start + k * stride) % size for k in range(size)) if s not in taken),
            None,
        )
        if slot is None:
            overflow.append(name)
            continue
        taken.add(slot)
        colors[name] = FIRM_PALETTE[slot]
    used = set(colors.values())
    for name in overflow:
        digest = _name_hash(name)
        attempt = 0
        while True:
            hue = ((digest % 3600) / 3600 + attempt * 0.618033988749895) % 1.0
            color = _hex(hue, (0.35, 0.5, 0.65)[(digest >> 12) % 3])
            if color not in used:
                break
            attempt += 1
        used.add(color)
        colors[name] = color
    return colors
