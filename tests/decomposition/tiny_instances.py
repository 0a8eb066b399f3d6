"""Tiny instances whose optima are derived by hand in their docstrings (shared by several tests)."""

from __future__ import annotations

from decomposition.problem.instance import Arc, Instance, Scenario, Unit


def unit(uid: str, stock: int, **kw) -> Unit:
    kw.setdefault("max_per_delivery", 10)
    return Unit(id=uid, initial_stock=stock, **kw)


def one_scenario(demand: dict[str, list[float]]) -> list[Scenario]:
    return [Scenario(id="s", probability=1.0, demand=demand)]


def half_share_donor(stock: int = 10, need: int = 5) -> Instance:
    """a holds `stock` and uses 2 a day, may send half its excess, one delivery a day; b needs `need` from day 2.

    As built (10, 5): day 1: E_a = 10 - 2 = 8, a sends <= 4 (arrives day 2). Day 2: E_a = 6 - 2 = 4, a
    sends <= 2 (arrives day 3). b: day 2 has 4 of 5 (NCD 1), day 3 has 4 + x2 >= 5 with x2 >= 1 (NCD 0).
    Phi4* = 1; without reallocation Phi4 = 5 + 5 = 10.
    With (3, 1): E_a = 1, half of it is half a unit, so nothing whole moves: Phi4* = 2, while the
    pooled LP sends half a unit on day 1.
    """
    return Instance(
        name="half-share" if (stock, need) == (10, 5) else f"half-share-{stock}-{need}",
        periods=["1", "2", "3"],
        units=[unit("a", stock, send_share=0.5, max_deliveries=1), unit("b", 0)],
        arcs=[Arc(source="a", target="b", days=1)],
        scenarios=one_scenario({"a": [2, 2, 2], "b": [0, need, need]}),
    )


def three_units_one_donor(donor_stock: int = 3) -> Instance:
    """a (stock 3, no demand) can ship to b and c, lag 1, 3 periods.

    b needs 3 on days 2 and 3; c needs 2 on day 3. Equipment in use stays, so a unit at b
    covers both days. Splits (to b, to c), all sent on day 1:
      (3, 0): NCD b = 0, c = 2 on day 3        -> Phi4 = 2, Phi1 = 2, Phi2 = 2
      (2, 1): NCD b = 1 + 1, c = 1             -> Phi4 = 3, Phi1 = 2, Phi2 = 1
      (1, 2): NCD b = 2 + 2, c = 0             -> Phi4 = 4, Phi1 = 4, Phi2 = 2
    So Phi4* = 2, Phi1* = 2, Phi2* = 1 (only the (2, 1) split).
    """
    return Instance(
        name="one-donor",
        periods=["1", "2", "3"],
        units=[unit("a", donor_stock, max_deliveries=2), unit("b", 0), unit("c", 0)],
        arcs=[Arc(source="a", target="b", days=1), Arc(source="a", target="c", days=1)],
        scenarios=one_scenario({"a": [0, 0, 0], "b": [0, 3, 3], "c": [0, 0, 2]}),
    )


def two_scenarios() -> Instance:
    """a (stock 2, one delivery a day) helps b or c; in w1 (p 0.2) b needs 2, in w2 (p 0.8) c needs 1.

    Phi*(w1) = Phi*(w2) = 0 (each scenario alone is covered). Plans (one delivery on day 1):
      2 to b: NCD w1 0, w2 1 -> E[Phi4] = 0.8, regret max(0, 1) = 1
      1 to b: NCD w1 1, w2 1 -> E[Phi4] = 1.0, regret 1
      2 to c: NCD w1 2, w2 0 -> E[Phi4] = 0.4, regret 2
    Phi4* = 0.4 (2 to c); Phi4-regret* = 1, and the tie-breaker picks 2 to b (E = 0.8).
    """
    return Instance(
        name="two-scenarios",
        periods=["1", "2"],
        units=[unit("a", 2, max_deliveries=1), unit("b", 0), unit("c", 0)],
        arcs=[Arc(source="a", target="b", days=1), Arc(source="a", target="c", days=1)],
        scenarios=[
            Scenario(id="w1", probability=0.2, demand={"a": [0, 0], "b": [0, 2], "c": [0, 0]}),
            Scenario(id="w2", probability=0.8, demand={"a": [0, 0], "b": [0, 0], "c": [0, 1]}),
        ],
    )
