"""A small undirected graph: the part of ``networkx.Graph`` the partnership network uses.

Same structure as networkx (a dict of neighbour dicts, an edge's data dict shared by both
ends), the same iteration orders (nodes in insertion order, each node's neighbours in the order
its links formed, each edge once from the first node that has it) and the same formulas for
density, connected components, average clustering and degree centrality, operation for
operation, so every number derived from it equals networkx's bit for bit
(tests/test_graph.py compares them). Importing networkx costs ~0.1 s of a run's start-up and
its views cost time in every step; the partnership network needs neither.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from types import MappingProxyType
from typing import Any


class Graph:
    """Undirected graph without multi-edges; nodes are hashable names."""

    def __init__(self) -> None:
        self._adj: dict[Any, dict[Any, dict[str, Any]]] = {}

    # --- structure ---------------------------------------------------------------------------

    def add_node(self, node) -> None:
        self._adj.setdefault(node, {})

    def add_edge(self, u, v, **data) -> None:
        """Link ``u`` and ``v`` (added if new); an existing edge's data is updated."""
        self.add_node(u)
        self.add_node(v)
        edge = self._adj[u].get(v, {})
        edge.update(data)
        self._adj[u][v] = edge
        self._adj[v][u] = edge

    def remove_edge(self, u, v) -> None:
        del self._adj[u][v]
        if u != v:
            del self._adj[v][u]

    def remove_node(self, node) -> None:
        for other in list(self._adj[node]):
            del self._adj[other][node]
        del self._adj[node]

    # --- reading -----------------------------------------------------------------------------

    def __getitem__(self, node) -> MappingProxyType:
        """``node``'s neighbours and the data of each link (read-only)."""
        return MappingProxyType(self._adj[node])

    def __contains__(self, node) -> bool:
        return node in self._adj

    def __len__(self) -> int:
        return len(self._adj)

    @property
    def nodes(self) -> list:
        return list(self._adj)

    def has_edge(self, u, v) -> bool:
        return u in self._adj and v in self._adj[u]

    def degree(self, node) -> int:
        neighbours = self._adj[node]
        return len(neighbours) + (node in neighbours)  # a self-loop counts twice

    def number_of_nodes(self) -> int:
        return len(self._adj)

    def number_of_edges(self) -> int:
        return int(sum(self.degree(node) for node in self._adj) / 2)

    def edges(self, data: bool = False) -> Iterator[tuple]:
        """Each edge once, as (u, v) or (u, v, data), in networkx's order."""
        seen: set = set()
        for node, neighbours in self._adj.items():
            for other, edge in neighbours.items():
                if other not in seen:
                    yield (node, other, edge) if data else (node, other)
            seen.add(node)

    # --- metrics (networkx's formulas) -------------------------------------------------------

    def density(self) -> float:
        n, m = self.number_of_nodes(), self.number_of_edges()
        if m == 0 or n <= 1:
            return 0
        return m / (n * (n - 1)) * 2

    def number_connected_components(self) -> int:
        seen: set = set()
        count = 0
        for start in self._adj:
            if start in seen:
                continue
            count += 1
            seen.add(start)
            frontier = [start]
            while frontier:
                node = frontier.pop()
                for other in self._adj[node]:
                    if other not in seen:
                        seen.add(other)
                        frontier.append(other)
        return count

    def clustering(self) -> dict:
        """Each node's clustering coefficient (networkx.clustering, unweighted)."""
        out = {}
        for node, neighbours in self._adj.items():
            others = set(neighbours) - {node}
            shared = Counter(len(others & (set(self._adj[w]) - {w})) for w in others)
            triangles = sum(k * count for k, count in shared.items())  # each one twice
            degree = len(others)
            out[node] = 0 if triangles == 0 else triangles / (degree * (degree - 1))
        return out

    def average_clustering(self) -> float:
        values = self.clustering().values()
        return sum(values) / len(values)

    def degree_centrality(self) -> dict:
        if len(self) <= 1:
            return {node: 1 for node in self._adj}
        scale = 1.0 / (len(self) - 1.0)
        return {node: self.degree(node) * scale for node in self._adj}
