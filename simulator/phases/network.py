"""Network phase: links expire, dissolve when unprofitable, and form where both firms' link
rules accept them (simulator.network has the link economics).

Only pairs that could form a link are evaluated: a type no firm takes part in is skipped, and
when every firm's rule asks for a positive net gain (``LinkRule.needs_net_gain``), a type's
pairs are those of the firms whose ``link_gain_bound`` is positive (a firm that cannot bring
a partner the link's cost, or gain it itself, is in no pair). The phase's time follows the
number of such pairs, quadratic only where every firm could link with every other; its memory
is linear: rows are taken ``BLOCK`` at a time, and each pair is proposed from its lower row,
which keeps at most ``CANDIDATES_PER_FIRM`` candidate links (its best by joint gain): every
candidate it has in markets of up to 22 firms, and far more than the ``max_links`` a firm
can hold. Held links are checked pair by pair.
"""

from __future__ import annotations

import numpy as np

from simulator.market import dynamics
from simulator.market.state import MarketState
from simulator.market.strategy import LINK_RULE, LINK_TYPES
from simulator.market.strategy.links import LinkSituation
from simulator.network import PartnershipNetwork, expected_gains, link_cost, link_gain_bound
from simulator.phases.decide import RowParams, Rules, groups

BLOCK = 64
"""Rows of the pair slab evaluated at once (memory ~ BLOCK x firms x a few arrays)."""
CANDIDATES_PER_FIRM = 64
"""Most candidate links a firm brings to the greedy formation step."""


TYPE_RANK = np.argsort(np.argsort(np.array(LINK_TYPES, dtype=object)))
"""Rank of each link type's name (the last tie-break of the formation order)."""


def link_groups(state: MarketState, rules: Rules) -> list[tuple[object, np.ndarray, RowParams]]:
    """(link rule, membership mask over the firms, their parameters) for each link rule in
    use."""
    out = []
    for rule, rows, params in groups(state, LINK_RULE, rules):
        member = np.zeros(state.n_firms, dtype=bool)
        member[rows] = True
        out.append((rule, member, params))
    return out


def willingness(
    state, link_rules, link_type: str, net: np.ndarray, deciders, situation=None
) -> np.ndarray:
    """Whether each firm ``deciders[g]`` accepts each link of ``net[g]`` under its link rule
    (``link_rules``: link_groups of this step; ``situation``: the LinkSituation of this step,
    for rules that look ahead)."""
    accepts = np.zeros(net.shape, dtype=bool)
    for rule, member, _params in link_rules:
        local = np.flatnonzero(member[deciders])
        if len(local):
            chosen = deciders[local]
            accepts[local] = rule.decide(
                link_type, net[local], chosen, RowParams(state.params, chosen), situation
            )
    return accepts


def best_in_rows(
    rows: np.ndarray, columns: np.ndarray, values: np.ndarray, width: int, keep: int
) -> np.ndarray:
    """Which entries (``rows``, ``columns``, ``values``) of a sparse matrix ``width`` wide,
    -inf elsewhere, are among their row's ``keep`` largest, as a mask over the entries: every
    entry of a row with at most ``keep``; else those numpy's argpartition picks from the row
    (the same set as partitioning the whole matrix, ties included). The formation step sorts
    the candidates, so only the set counts."""
    chosen = np.ones(len(rows), dtype=bool)
    if len(rows) <= keep:
        return chosen
    counts = np.bincount(rows)
    crowded = np.flatnonzero(counts > keep)
    if len(crowded):
        at = np.full(len(counts), -1)
        at[crowded] = np.arange(len(crowded))
        mine = np.flatnonzero(at[rows] >= 0)
        dense = np.full((len(crowded), width), -np.inf)
        dense[at[rows[mine]], columns[mine]] = values[mine]
        best = np.argpartition(-dense, keep - 1, axis=1)[:, :keep]
        picked = np.zeros(dense.shape, dtype=bool)
        np.put_along_axis(picked, best, True, axis=1)
        chosen[mine] = picked[at[rows[mine]], columns[mine]]
    return chosen


def focus_overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of unit focus vectors ``a`` and ``b`` (..., S), broadcast: summed
    segment by segment, so a pair's overlap is the same number, and the same both ways,
    whichever pairs are computed with it (a matrix product's rounding depends on its shape)."""
    total = a[..., 0] * b[..., 0]
    for s in range(1, a.shape[-1]):
        total += a[..., s] * b[..., s]
    return total


def name_ranks(names: list[str]) -> np.ndarray:
    """Rank of each name in sorted order (names are distinct)."""
    ranks = np.empty(len(names), dtype=np.intp)
    ranks[sorted(range(len(names)), key=names.__getitem__)] = np.arange(len(names))
    return ranks


def update_links(state: MarketState, network: PartnershipNetwork, rules: Rules, step: int) -> None:
    n = state.n_firms
    if n < 2:
        return
    link_rules = link_groups(state, rules)
    if not network.n_links() and not any(rule.forms_links for rule, *_ in link_rules):
        return  # no link to keep and no firm that would propose one
    # a type no firm accepts forms no link; it is evaluated only to dissolve held links
    accepted = [
        any(rule.may_accept(t, params) for rule, _, params in link_rules) for t in LINK_TYPES
    ]
    terms = network.terms
    norm = dynamics.unit_rows(state.data_mix)
    values = {"rd_spend": state.rd_spend, "marketing": state.marketing, "revenue": state.revenue}
    everyone = np.arange(n)
    situation = LinkSituation(
        {t: link_cost(terms, t) for t in LINK_TYPES},
        terms.term,
        state.last_release,
        state.release_cycle,
        step,
    )
    # only firms that can gain from a type (both sides, when every rule asks for a net gain)
    pruned = all(rule.needs_net_gain for rule, *_ in link_rules)

    def can_link(t: int) -> np.ndarray:
        if not accepted[t]:
            return np.zeros(n, dtype=bool)
        if not pruned:
            return np.ones(n, dtype=bool)
        return link_gain_bound(LINK_TYPES[t], terms, values) > 0

    viable = [can_link(t) for t in range(len(LINK_TYPES))]
    partners = [np.flatnonzero(v) for v in viable]
    names = state.names
    drop: list[tuple[str, str]] = []  # held links that no longer pay both sides
    for link_type, (ours, theirs) in network.held_links(names).items():
        cost = link_cost(terms, link_type)
        at = {k: v[ours] for k, v in values.items()}
        to = {k: v[theirs] for k, v in values.items()}
        pair_overlap = focus_overlap(norm[ours], norm[theirs])
        out = expected_gains(link_type, terms, pair_overlap, at, to) - cost
        back = expected_gains(link_type, terms, pair_overlap, to, at) - cost
        unpaid = (out <= 0) | (back <= 0)
        drop.extend((names[i], names[j]) for i, j in zip(ours[unpaid], theirs[unpaid], strict=True))
    found: list[tuple[np.ndarray, ...]] = []  # (joint gain, row i, row j, type index) arrays
    for start in range(0, n, BLOCK):
        block = everyone[start : start + BLOCK]
        proposers = [
            np.flatnonzero(v[block]) if len(c) else c for v, c in zip(viable, partners, strict=True)
        ]
        if not any(len(p) for p in proposers):
            continue  # no firm here that could gain from a link
        entries = []  # (offset in block, partner row, type index, joint gain) per type
        for t, link_type in enumerate(LINK_TYPES):
            cost = link_cost(terms, link_type)
            offsets, mates = proposers[t], partners[t]
            mates = mates[np.searchsorted(mates, block[0], side="right") :]  # later rows only
            if not len(offsets) or not len(mates):
                continue
            proposing = block[offsets]
            pair_overlap = focus_overlap(norm[proposing][:, None], norm[mates][None, :])
            rows = {k: v[proposing][:, None] for k, v in values.items()}
            cols = {k: v[mates][None, :] for k, v in values.items()}
            out = expected_gains(link_type, terms, pair_overlap, rows, cols) - cost  # i's gain
            back = expected_gains(link_type, terms, pair_overlap, cols, rows) - cost  # j's gain
            mutual = willingness(state, link_rules, link_type, out, proposing, situation)
            mutual &= willingness(state, link_rules, link_type, back.T, mates, situation).T
            mutual &= mates[None, :] > proposing[:, None]  # each pair once, from its first row
            r, c = np.nonzero(mutual)
            entries.append((offsets[r], mates[c], np.full(len(r), t), out[r, c] + back[r, c]))
        if entries:
            offset, j, t, gain = (np.concatenate(parts) for parts in zip(*entries, strict=True))
            # per proposing row, its best CANDIDATES_PER_FIRM (type, partner) pairs
            keep = best_in_rows(offset, t * n + j, gain, len(LINK_TYPES) * n, CANDIDATES_PER_FIRM)
            found.append((gain[keep], block[offset[keep]], j[keep], t[keep]))
    network.dissolve(step, drop)
    if not found:
        return
    gains, i, j, t = (np.concatenate(parts) for parts in zip(*found, strict=True))
    room = network.has_room(names)  # a firm full now stays full while links form
    fits = room[i] & room[j]
    gains, i, j, t = gains[fits], i[fits], j[fits], t[fits]
    name_rank = name_ranks(names)
    # best joint gain first, ties by the two names, then the link type's name
    order = np.lexsort((TYPE_RANK[t], name_rank[j], name_rank[i], -gains))
    network.form(step, ((names[i[k]], names[j[k]], LINK_TYPES[t[k]]) for k in order))
