import mesa
import numpy as np
import pandas as pd
import pytest

from simulator.model import MarketModel, simulate
from simulator.results import read_run, write_run


def test_same_seed_gives_identical_parquet_tables(tmp_path, small_scenario):
    for name in ("a", "b"):
        write_run(tmp_path / name, simulate(small_scenario))
    for table in ("model", "firms", "segments"):
        a = (tmp_path / "a" / f"{table}.parquet").read_bytes()
        b = (tmp_path / "b" / f"{table}.parquet").read_bytes()
        assert a == b, table


def test_accounting_identities_hold(small_scenario):
    result = simulate(small_scenario)
    firms = result.firms.sort_values(["firm", "step"])
    np.testing.assert_allclose(firms["revenue"], firms["price"] * firms["quantity"])
    for _, rows in firms.groupby("firm"):
        cash = rows["cash"].to_numpy()
        np.testing.assert_allclose(
            np.diff(cash), rows["profit"].to_numpy()[1:], rtol=1e-9, atol=1e-9
        )
    shares = result.firms.groupby("step")["share"].sum()
    np.testing.assert_allclose(shares, 1.0)
    # capacity is respected: Lab can serve at most 3 units per step
    assert result.firms.loc[result.firms.firm == "Lab", "quantity"].max() <= 3.0 + 1e-9


def test_a_binding_price_cap_holds_the_best_responder_there_and_helps_consumers(small_scenario):
    """Prices lie in [cost, cap] by construction (the rules' output is clipped); what can go
    wrong is whether the cap reaches the firms and what it does to the market."""
    small_scenario["market"]["quality_model"] = "placeholder"
    free = simulate(small_scenario)
    small_scenario["market"]["price_cap"] = 1.6
    capped = simulate(small_scenario)
    free_prices = free.firms.pivot(index="step", columns="firm", values="price")
    capped_prices = capped.firms.pivot(index="step", columns="firm", values="price")
    assert (free_prices["Big"] > 1.6).all()  # Big's unconstrained best response is above it
    np.testing.assert_allclose(capped_prices["Big"], 1.6)  # so it binds at every step
    np.testing.assert_allclose(capped_prices["Lab"], free_prices["Lab"])  # cost_plus 1.4: slack
    assert (capped.model["price_index"] < free.model["price_index"]).all()
    assert (capped.model["consumer_surplus"] > free.model["consumer_surplus"]).all()


def test_quality_changes_only_at_releases_and_grows_with_rd(small_scenario):
    segments = simulate(small_scenario).segments
    big = segments[(segments.firm == "Big") & (segments.segment == "assistant")].set_index("step")[
        "quality"
    ]
    changed = big.index[1:][np.diff(big.to_numpy()) != 0]
    assert list(changed) == [4, 8, 12, 16, 20, 24]  # release_cycle 4
    assert big.iloc[-1] > big.iloc[0]
    fixed = segments[segments.firm == "Follower"]["quality"]
    assert (fixed == 0.5).all()


def test_learning_by_doing_lowers_unit_cost(small_scenario):
    firms = simulate(small_scenario).firms
    cheap = firms[firms.firm == "Cheap"]["unit_cost"].to_numpy()
    big = firms[firms.firm == "Big"]["unit_cost"].to_numpy()
    assert cheap[-1] < cheap[0] < 0.5 and np.all(np.diff(cheap) <= 0)
    assert np.all(big == 0.8)  # learning_rate 0 by default


def test_model_reporters_are_consistent(small_scenario):
    result = simulate(small_scenario)
    model, firms = result.model, result.firms
    assert list(model["step"]) == list(range(1, 25))
    hhi = firms.groupby("step")["share"].apply(lambda s: float(((100 * s) ** 2).sum()))
    np.testing.assert_allclose(model.set_index("step")["hhi"], hhi)
    seg = result.segments.groupby("step")["demand"].sum()
    np.testing.assert_allclose(model.set_index("step")["total_demand"], seg)


def test_run_folder_round_trips(tmp_path, small_scenario):
    result = simulate(small_scenario)
    write_run(tmp_path, result)
    again = read_run(tmp_path)
    pd.testing.assert_frame_equal(again.firms, result.firms)
    assert again.scenario == result.scenario
    assert again.summary["final_share"] == pytest.approx(result.summary["final_share"])
    assert not list(tmp_path.glob("*.tmp"))


def test_usable_from_mesa_batch_run(small_scenario):
    small_scenario["steps"] = 5
    rows = mesa.batch_run(
        MarketModel,
        parameters={"scenario": [small_scenario], "seed": [1, 2]},
        iterations=1,
        max_steps=5,
        number_processes=1,
        data_collection_period=-1,
        display_progress=False,
    )
    # model-level rows (firm rows live in the DataCollector's `firms` table, as tables do)
    assert len(rows) == 2
    assert {row["seed"] for row in rows} == {1, 2}
    assert all(row["Step"] == 5 and 0 < row["hhi"] <= 10_000 for row in rows)
    assert rows[0]["hhi"] != rows[1]["hhi"] or rows[0]["consumer_surplus"] > 0
