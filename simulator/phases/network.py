"""Network phase: links expire, dissolve when unprofitable, and form where both firms' link
rules accept them (simulator.network has the link economics).

Memory stays linear in the number of firms: pairs are evaluated in blocks of ``BLOCK`` rows
(a block x all-firms slab at a time, never the firms x firms matrix), and each pair is
proposed from its lower row, which keeps at most ``CANDIDATES_PER_FIRM`` candidate links (its
best by joint gain): every candidate it has in markets of up to 22 firms, and far more than
the ``max_links`` a firm can hold.
"""

from __future__ import annotations

import numpy as np

from simulator.market import dynamics
from simulator.market.state import MarketState
from simulator.market.strategy import LINK_RULE, LINK_TYPES
from simulator.market.strategy.links import LinkSituation
from simulator.network import PartnershipNetwork, expected_gains, link_cost
from simulator.phases.decide import RowParams, Rules, groups

BLOCK = 64
"""Rows of the pair slab evaluated at once (memory ~ BLOCK x firms x a few arrays)."""
CANDIDATES_PER_FIRM = 64
"""Most candidate links a firm brings to the greedy formation step."""


TYPE_RANK = np.argsort(np.argsort(np.array(LINK_TYPES, dtype=object)))
"""Rank of each link type's name (the last tie-break of the formation order)."""


def link_groups(state: MarketState, rules: Rules) -> list[tuple[object, np.ndarray]]:
    """(link rule, membership mask over the firms) for each link rule in use."""
    out = []
    for rule, rows, _params in groups(state, LINK_RULE, rules):
        member = np.zeros(state.n_firms, dtype=bool)
        member[rows] = True
        out.append((rule, member))
    return out


def willingness(
    state, link_rules, link_type: str, net: np.ndarray, deciders, situation=None
) -> np.ndarray:
    """Whether each firm ``deciders[g]`` accepts each link of ``net[g]`` under its link rule
    (``link_rules``: link_groups of this step; ``situation``: the LinkSituation of this step,
    for rules that look ahead)."""
    accepts = np.zeros(net.shape, dtype=bool)
    for rule, member in link_rules:
        local = np.flatnonzero(member[deciders])
        if len(local):
            chosen = deciders[local]
            accepts[local] = rule.decide(
                link_type, net[local], chosen, RowParams(state.params, chosen), situation
            )
    return accepts


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
    if not network.n_links() and not any(rule.forms_links for rule, _ in link_rules):
        return  # no link to keep and no firm that would propose one
    terms = network.terms
    norm = dynamics.unit_rows(state.data_mix)
    values = {"rd_spend": state.rd_spend, "marketing": state.marketing, "revenue": state.revenue}
    edges_by_row = network.links_by_row(state.names)
    everyone = np.arange(n)
    situation = LinkSituation(
        {t: link_cost(terms, t) for t in LINK_TYPES},
        terms.term,
        state.last_release,
        state.release_cycle,
        step,
    )
    drop: list[tuple[str, str]] = []
    found: list[tuple[np.ndarray, ...]] = []  # (joint gain, row i, row j, type index) arrays
    for start in range(0, n, BLOCK):
        block = everyone[start : start + BLOCK]
        overlap = norm[block] @ norm.T  # (B, F), symmetric with the full product
        rows = {k: v[block][:, None] for k, v in values.items()}
        cols = {k: v[None, :] for k, v in values.items()}
        later = everyone[None, :] > block[:, None]  # each pair once, from its first row
        joint = np.full((len(LINK_TYPES), len(block), n), -np.inf)
        for t, link_type in enumerate(LINK_TYPES):
            cost = link_cost(terms, link_type)
            out = expected_gains(link_type, terms, overlap, rows, cols) - cost  # i's gain
            back = expected_gains(link_type, terms, overlap, cols, rows) - cost  # j's gain
            for offset, i in enumerate(block):
                for j, held in edges_by_row.get(int(i), ()):
                    if held == link_type and (out[offset, j] <= 0 or back[offset, j] <= 0):
                        drop.append((state.names[i], state.names[j]))
            mutual = willingness(state, link_rules, link_type, out, block, situation)
            mutual &= willingness(state, link_rules, link_type, back.T, everyone, situation).T
            mutual &= later
            np.add(out, back, out=joint[t], where=mutual)
        # per proposing row, its best CANDIDATES_PER_FIRM (type, partner) pairs
        flat = joint.transpose(1, 0, 2).reshape(len(block), -1)  # (B, types x F)
        keep = min(CANDIDATES_PER_FIRM, flat.shape[1])
        best = np.argpartition(-flat, keep - 1, axis=1)[:, :keep]
        gains = np.take_along_axis(flat, best, axis=1)
        r, c = np.nonzero(np.isfinite(gains))
        t, j = np.divmod(best[r, c], n)
        found.append((gains[r, c], block[r], j, t))
    gains, i, j, t = (np.concatenate(parts) for parts in zip(*found, strict=True))
    name_rank = name_ranks(state.names)
    # best joint gain first, ties by the two names, then the link type's name
    order = np.lexsort((TYPE_RANK[t], name_rank[j], name_rank[i], -gains))
    names = state.names
    candidates = ((names[i[k]], names[j[k]], LINK_TYPES[t[k]]) for k in order)
    network.update(step, drop, candidates)
