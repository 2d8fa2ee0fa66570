"""Partnership network (networkx): alliances, joint R&D, market sharing; and their economics.

Nodes are firm names; an edge carries ``type`` (one of LINK_TYPES), ``start`` (step formed)
and ``end`` (last step of its term). One agreement per pair of firms.

Link types:
  joint_rd        partners pool ``pool_share`` of their R&D compute: each partner's next model
                  is trained with its own compute plus  pool_share * sum_j R_j * k**(returns-1)
                  (k = its number of joint-R&D partners; returns < 1 gives diminishing returns).
  market_sharing  partners do not undercut each other: a partner's last price is a floor.
  alliance        co-opetition: each partner's demand sees its own brand plus ``brand_share``
                  of its allies' brand stocks, at a cost per step.

Formation: a link forms only when both firms expect a gain larger than the link's cost per
step; it dissolves when it stops paying for either side, when a partner exits, or at the end
of its term. Expected gains per step (money units), with overlap_ij the cosine similarity of
the two firms' segment focus (helping a close rival costs you):

  joint_rd:        pool_share * (R_j - rivalry * overlap_ij * R_i)
  alliance:        brand_share * (I_j - rivalry * overlap_ij * I_i)
  market_sharing:  sharing_value * overlap_ij * revenue_i

(R: R&D spend, I: marketing spend.) Which firms take part is each firm's link rule
(simulator.market.strategy.links); the terms are the scenario's ``market.network``.
"""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx
import numpy as np

from simulator.config.schema import NetworkTerms
from simulator.market.strategy.links import LINK_TYPES

Array = np.ndarray


def link_cost(terms: NetworkTerms, link_type: str) -> float:
    """Cost per step of holding one link of ``link_type``."""
    return terms.cost.get(link_type, 1.0)


def expected_gains(
    link_type: str,
    terms: NetworkTerms,
    overlap: Array,
    own: dict[str, Array],
    partner: dict[str, Array],
) -> Array:
    """Expected gain per step of the firms ``own`` from a ``link_type`` link with ``partner``.

    ``own`` and ``partner`` map rd_spend, marketing and revenue to arrays that broadcast with
    ``overlap`` (e.g. a column for the firms gaining and a row for their partners).
    """
    if link_type == "joint_rd":
        rd = "rd_spend"
        return terms.pool_share * (partner[rd] - terms.rivalry * overlap * own[rd])
    if link_type == "alliance":
        ad = "marketing"
        return terms.brand_share * (partner[ad] - terms.rivalry * overlap * own[ad])
    if link_type == "market_sharing":
        return terms.sharing_value * overlap * np.maximum(own["revenue"], 0.0)
    raise ValueError(f"unknown link type {link_type!r}")


def link_gain_bound(link_type: str, terms: NetworkTerms, values: dict[str, Array]) -> Array:
    """Per firm, a bound on the net gain (gain less cost, as computed by ``expected_gains``) of
    one side of any ``link_type`` link the firm could hold, whatever the partner and overlap:
    the partner's side for joint_rd and alliance (what the firm brings), its own for
    market_sharing. A link both sides find worth its cost joins two firms whose bounds are
    positive, so the network phase evaluates only those pairs.

    Exact under rounding (every operation of the gain is monotone in the terms it drops);
    with a negative spend (which no budget rule makes) it bounds nothing: +inf."""
    cost = link_cost(terms, link_type)
    if link_type == "market_sharing":
        revenue = np.maximum(values["revenue"], 0.0)
        return terms.sharing_value * (1.0 + 1e-9) * revenue - cost  # overlap <= 1 + rounding
    share, key = (
        (terms.pool_share, "rd_spend")
        if link_type == "joint_rd"
        else (terms.brand_share, "marketing")
    )
    spend = values[key]
    if len(spend) and not np.min(spend) >= 0:
        return np.full(len(spend), np.inf)
    return share * spend - cost


def _pair(a: str, b: str) -> tuple[str, str]:
    """A link's key, the same whichever firm is named first."""
    return (a, b) if a < b else (b, a)


class PartnershipNetwork:
    """The graph plus the rules that form and dissolve its links.

    What the phases read of the graph every step (each firm's partners, link costs,
    centrality, metrics, the edge list) is kept until the graph or the terms change, which in
    most steps they do not; so the graph is changed through these methods only, never on
    ``graph`` directly."""

    def __init__(self, terms: NetworkTerms):
        self.graph = nx.Graph()
        self._terms = terms
        self._cache: dict = {}
        self._end: dict[tuple[str, str], int] = {}  # last step of each link's term, by pair

    @property
    def terms(self) -> NetworkTerms:
        return self._terms

    @terms.setter
    def terms(self, terms: NetworkTerms) -> None:  # a `set` event on market.network
        self._terms = terms
        self._cache.clear()

    def _kept(self, key, make):
        """``make()``, computed once per state of the graph and terms."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def n_links(self) -> int:
        """Links in the graph (networkx counts them over every node's degree: O(firms))."""
        return self._kept("n_links", self.graph.number_of_edges)

    def add_firm(self, name: str) -> None:
        self.graph.add_node(name)
        self._cache.clear()

    def remove_firm(self, name: str) -> list[tuple[str, str, str]]:
        """Drop a firm (it exited); returns the links that dissolved with it."""
        dropped = [(name, other, data["type"]) for other, data in self.graph[name].items()]
        for _, other, _ in dropped:
            del self._end[_pair(name, other)]
        self.graph.remove_node(name)
        self._cache.clear()
        return dropped

    def link(self, a: str, b: str, link_type: str, step: int, term: int | None = None) -> None:
        if link_type not in LINK_TYPES:
            raise ValueError(f"unknown link type {link_type!r}")
        end = step + (term or self.terms.term)
        self.graph.add_edge(a, b, type=link_type, start=step, end=end)
        self._end[_pair(a, b)] = end
        self._cache.clear()

    def _remove_edge(self, a: str, b: str) -> None:
        self.graph.remove_edge(a, b)
        del self._end[_pair(a, b)]
        self._cache.clear()

    def partners(self, name: str, link_type: str) -> list[str]:
        return [o for o, d in self.graph[name].items() if d["type"] == link_type]

    def edges(self) -> list[tuple[str, str, str, int]]:
        """(source, target, type, start) with source < target, sorted: a stable record order."""

        def rows() -> list[tuple[str, str, str, int]]:
            edges = self.graph.edges(data=True)
            return sorted((*sorted((a, b)), d["type"], d["start"]) for a, b, d in edges)

        return list(self._kept("edges", rows))

    def dissolve(self, step: int, drop: list[tuple[str, str]]) -> None:
        """Dissolve the links in ``drop`` and those past their term."""
        for a, b in drop:
            if self.graph.has_edge(a, b):
                self._remove_edge(a, b)
        for a, b in [pair for pair, end in self._end.items() if step > end]:
            self._remove_edge(a, b)  # in any order: the graph left is the same

    def has_room(self, names: list[str]) -> Array:
        """Whether each firm of ``names`` holds fewer than ``max_links`` links (bool)."""
        adjacency, full = self.graph.adj, self.terms.max_links
        return np.array([len(adjacency[name]) < full for name in names], dtype=bool)

    def form(self, step: int, candidates: Iterable[tuple[str, str, str]]) -> None:
        """Form links from ``candidates`` (firm, firm, type), taken in the order given (the
        network phase orders them by joint gain, best first, ties by name), while both firms
        hold fewer than ``max_links``."""
        adjacency = self.graph.adj
        degree: dict[str, int] = {}  # of the firms seen so far (networkx's degree is slower)
        full = self.terms.max_links
        for a, b, link_type in candidates:
            for firm in (a, b):
                if firm not in degree:
                    degree[firm] = len(adjacency[firm])  # no self-links
            if degree[a] >= full or degree[b] >= full or b in adjacency[a]:
                continue
            self.link(a, b, link_type, step)
            degree[a] += 1
            degree[b] += 1

    # --- economics of the links -------------------------------------------------------------

    def held_links(self, names: list[str]) -> dict[str, tuple[Array, Array]]:
        """The links held, per type: (rows, partner rows) in ``names``, each link once, in the
        graph's edge order (the network phase checks whether they still pay)."""

        def rows() -> dict[str, tuple[Array, Array]]:
            row_of = {name: i for i, name in enumerate(names)}
            pairs: dict[str, tuple[list[int], list[int]]] = {}
            for a, b, data in self.graph.edges(data=True):
                ours, theirs = pairs.setdefault(data["type"], ([], []))
                ours.append(row_of[a])
                theirs.append(row_of[b])
            return {
                t: (np.array(i, dtype=np.intp), np.array(j, dtype=np.intp))
                for t, (i, j) in pairs.items()
            }

        return self._kept(("held_links", tuple(names)), rows)

    def _partner_rows(self, names: list[str], link_type: str) -> list[tuple[int, Array]]:
        """(row, rows of its ``link_type`` partners) for each firm of ``names`` that has any,
        partners in the graph's order."""

        def rows() -> list[tuple[int, Array]]:
            index = {n: i for i, n in enumerate(names)}
            out = []
            for i, name in enumerate(names):
                if self.graph.degree(name):
                    partners = [index[p] for p in self.partners(name, link_type)]
                    if partners:
                        out.append((i, np.array(partners, dtype=np.intp)))
            return out

        if not self.n_links():
            return []
        return self._kept(("partners", tuple(names), link_type), rows)

    def _over_partners(self, names: list[str], link_type: str, values: Array, combine) -> Array:
        """combine(values of a firm's ``link_type`` partners) per firm; 0 for a firm with none."""
        out = np.zeros(len(names))
        for i, partners in self._partner_rows(names, link_type):
            out[i] = combine(values[partners])
        return out

    def pooled_compute(self, names: list[str], own_compute: Array) -> Array:
        """Compute each firm gets this step from its joint-R&D partners (diminishing returns)."""
        terms = self.terms
        return self._over_partners(
            names,
            "joint_rd",
            own_compute,
            lambda pool: terms.pool_share * pool.sum() * len(pool) ** (terms.returns - 1.0),
        )

    def pooled_data(self, names: list[str], own_data: Array, share: float) -> Array:
        """Data each firm gets this step from its joint-R&D partners: ``share`` x the sum of
        their own new data (market.data.pool_share)."""
        return self._over_partners(names, "joint_rd", own_data, lambda pool: share * pool.sum())

    def allied_brand(self, names: list[str], brand: Array) -> Array:
        """Brand each firm's demand sees: own plus brand_share of its allies' brand stocks."""
        brand = np.asarray(brand, dtype=float)
        share = self.terms.brand_share
        return brand + self._over_partners(names, "alliance", brand, lambda b: share * b.sum())

    def price_floors(self, names: list[str], prices: Array) -> Array:
        """Highest last price among each firm's market-sharing partners (0 if none)."""
        return self._over_partners(names, "market_sharing", prices, np.max)

    def link_costs(self, names: list[str]) -> Array:
        """Each firm's cost per step of the links it holds."""
        if not self.n_links():
            return np.zeros(len(names))

        def costs() -> Array:
            return np.array(
                [
                    sum(link_cost(self.terms, d["type"]) for d in self.graph[n].values())
                    for n in names
                ]
            )

        return self._kept(("link_costs", tuple(names)), costs).copy()

    def metrics(self) -> dict[str, float]:
        return dict(self._kept("metrics", self._metrics))

    def _metrics(self) -> dict[str, float]:
        g = self.graph
        n = g.number_of_nodes()
        if not self.n_links():  # the values networkx gives an edgeless graph, cheaply
            return dict.fromkeys(
                ("n_links", "n_alliances", "n_joint_rd", "n_market_sharing"), 0
            ) | {
                "density": 0.0,
                "components": n,
                "clustering": 0.0,
            }
        return {
            "n_links": self.n_links(),
            "n_alliances": sum(1 for *_, d in g.edges(data=True) if d["type"] == "alliance"),
            "n_joint_rd": sum(1 for *_, d in g.edges(data=True) if d["type"] == "joint_rd"),
            "n_market_sharing": sum(
                1 for *_, d in g.edges(data=True) if d["type"] == "market_sharing"
            ),
            "density": float(nx.density(g)) if n > 1 else 0.0,
            "components": nx.number_connected_components(g) if n else 0,
            "clustering": nx.average_clustering(g) if n else 0.0,
        }

    def degree_centrality(self) -> dict[str, float]:
        return dict(self._kept("centrality", self._degree_centrality))

    def _degree_centrality(self) -> dict[str, float]:
        if not self.n_links():
            return dict.fromkeys(self.graph.nodes, 0.0)
        return (
            nx.degree_centrality(self.graph)
            if self.graph.number_of_nodes() > 1
            else {n: 0.0 for n in self.graph.nodes}
        )
