"""simulator.graph is networkx.Graph for what the partnership network reads: the same orders
and the same metric values, bit for bit, through random sequences of changes."""

from __future__ import annotations

import random

import networkx as nx
import pytest

from simulator.graph import Graph


def same(graph: Graph, reference: nx.Graph) -> None:
    assert graph.nodes == list(reference.nodes)
    assert list(graph.edges(data=True)) == list(reference.edges(data=True))
    assert graph.number_of_edges() == reference.number_of_edges()
    for node in reference.nodes:
        assert list(graph[node].items()) == list(reference[node].items())
        assert graph.degree(node) == reference.degree(node)
    assert graph.density() == nx.density(reference)
    assert type(graph.density()) is type(nx.density(reference))
    assert graph.number_connected_components() == nx.number_connected_components(reference)
    if len(reference):
        assert graph.clustering() == nx.clustering(reference)
        average = graph.average_clustering()
        assert average == nx.average_clustering(reference) and type(average) is float
    assert graph.degree_centrality() == nx.degree_centrality(reference)


@pytest.mark.parametrize("seed", range(8))
def test_random_changes_keep_the_graph_networkx_bit_for_bit(seed):
    rng = random.Random(seed)
    names = [f"firm{i}" for i in range(rng.randint(2, 12))]
    graph, reference = Graph(), nx.Graph()
    for step in range(200):
        action = rng.random()
        a, b = rng.sample(names, 2)
        if action < 0.15:
            graph.add_node(a)
            reference.add_node(a)
        elif action < 0.6:
            data = {"type": rng.choice(["joint_rd", "alliance"]), "start": step}
            graph.add_edge(a, b, **data)
            reference.add_edge(a, b, **data)
        elif action < 0.85:
            if reference.has_edge(a, b):
                graph.remove_edge(a, b)
                reference.remove_edge(a, b)
            assert graph.has_edge(a, b) == reference.has_edge(a, b)
        elif a in reference:
            graph.remove_node(a)
            reference.remove_node(a)
        same(graph, reference)


def test_an_edges_data_is_shared_by_both_ends_and_updated_in_place():
    graph = Graph()
    graph.add_edge("a", "b", type="joint_rd", start=1)
    graph.add_edge("b", "a", end=9)
    assert graph["a"]["b"] is graph["b"]["a"]
    assert dict(graph["a"]["b"]) == {"type": "joint_rd", "start": 1, "end": 9}
    with pytest.raises(TypeError):
        graph["a"]["c"] = {}  # the neighbour view is read-only
