"""What the data flywheel did: how much of each firm's quality gain came from compute and how
much from data (summary.json ``quality_gain``, when market.data is set).

For a firm whose quality comes from the zoo, with (C0, D0) the training compute and data per
segment behind its model at its first recorded step and (C1, D1) those at the last, the gain
Q(C1, D1) - Q(C0, D0) on each segment is split along the zoo surface by the Shapley rule (the
mean of the two orders of adding compute and data):

    from_compute = [Q(C1, D0) - Q(C0, D0) + Q(C1, D1) - Q(C0, D1)] / 2
    from_data    = [Q(C0, D1) - Q(C0, D0) + Q(C1, D1) - Q(C1, D0)] / 2

so from_compute + from_data = total exactly. The data mix is held at its last value, so a
change of focus is not counted (and quality changes that events set directly are not in it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def quality_gain(frames: dict[str, pd.DataFrame], quality_source, segments: list[str]) -> dict:
    """{firm: {segment: {total, from_compute, from_data}, "mean": {...}}} for every firm of
    the last step whose quality is read from the zoo (bpb known); {} without market.data."""
    data, firms, rows = frames.get("data"), frames["firms"], frames["segments"]
    if data is None or data.empty:
        return {}
    last = int(firms["step"].max())
    final = rows[(rows["step"] == last) & rows["bpb"].notna()]
    names = [n for n in dict.fromkeys(final["firm"]) if n in set(data["firm"])]
    if not names:
        return {}
    compute = firms.set_index(["firm", "step"])["model_compute"]
    model_data = data.pivot_table(
        index=["firm", "step"], columns="segment", values="model_data", aggfunc="first"
    )[segments]
    focus = final.pivot_table(index="firm", columns="segment", values="focus")[segments]
    start, end, d0, d1 = [], [], [], []
    for name in names:
        steps = model_data.loc[name].index
        first, final_step = int(steps.min()), int(steps.max())
        start.append(compute[(name, first)])
        end.append(compute[(name, final_step)])
        d0.append(model_data.loc[(name, first)].to_numpy(float))
        d1.append(model_data.loc[(name, final_step)].to_numpy(float))
    c0, c1 = np.array(start), np.array(end)
    data0, data1 = np.array(d0), np.array(d1)
    mix = focus.loc[names].to_numpy(float)
    q = quality_source(
        np.concatenate([c0, c1, c0, c1]),
        np.tile(mix, (4, 1)),
        np.concatenate([data0, data0, data1, data1]),
    )[0].reshape(4, len(names), len(segments))
    q00, q10, q01, q11 = q
    from_compute = 0.5 * ((q10 - q00) + (q11 - q01))
    from_data = 0.5 * ((q01 - q00) + (q11 - q10))
    out: dict[str, Any] = {}
    for k, name in enumerate(names):
        parts = {
            segment: _parts(q11[k, s] - q00[k, s], from_compute[k, s], from_data[k, s])
            for s, segment in enumerate(segments)
        }
        parts["mean"] = _parts(
            float(np.mean(q11[k] - q00[k])),
            float(np.mean(from_compute[k])),
            float(np.mean(from_data[k])),
        )
        out[name] = parts
    return out


def _parts(total: float, compute: float, data: float) -> dict[str, float]:
    return {"total": float(total), "from_compute": float(compute), "from_data": float(data)}
