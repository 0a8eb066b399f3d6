"""The US state-level instance: what the shipped data says, checked against the CSV files directly."""

from __future__ import annotations

import pandas as pd
import pytest

from decomposition.datasets import load_instance
from decomposition.errors import InstanceError
from decomposition.evaluation import evaluate
from decomposition.plan import Plan
from decomposition.us_states import DATA, us_states_instance


def test_fifty_states_over_47_days_with_three_day_transfers():
    inst = load_instance("us:states")
    assert len(inst.units) == 50 and inst.n_periods == 47
    assert inst.periods[0] == "2020-04-15" and inst.periods[-1] == "2020-05-31"
    assert "District of Columbia" not in {u.id for u in inst.units}  # no projection for it
    assert len(inst.arcs) == 50 * 49 and {a.days for a in inst.arcs} == {3.0}
    new_york = next(u for u in inst.units if u.id == "New York")
    supply = pd.read_csv(DATA / "ventilator_supply.csv").set_index("state")
    assert new_york.initial_stock == round(0.75 * supply.loc["New York", "ventilators_2019"])


def test_the_shortage_without_transfers_is_the_data_s():
    """Without transfers a state is short of max(0, demand - supply) every day: ventilator-days summed."""
    demand = pd.read_csv(DATA / "projected_demand.csv")
    supply = pd.read_csv(DATA / "ventilator_supply.csv").set_index("state")["ventilators_2019"]
    for share in (0.5, 0.75):
        own = demand["state"].map(lambda s: round(share * supply[s]))
        expected = (demand["ventilator_demand"] - own).clip(lower=0).sum()
        evaluation = evaluate(us_states_instance(supply_share=share), Plan())
        assert evaluation.feasible
        assert evaluation.phi["phi4"] == pytest.approx(expected)
        assert expected > 0  # the projection does run some states short


def test_a_supply_share_outside_0_1_is_refused():
    with pytest.raises(InstanceError, match="supply share"):
        us_states_instance(supply_share=1.5)


def test_the_pooling_cap_is_a_share_of_each_state_s_supply():
    capped = us_states_instance(pooling_cap=0.1)
    assert all(u.max_net_lent == int(0.1 * u.initial_stock) for u in capped.units)
    assert all(u.max_net_lent is None for u in us_states_instance().units)
    with pytest.raises(InstanceError, match="pooling cap"):
        us_states_instance(pooling_cap=2)
