"""The independent plan evaluator: replays any Plan over the whole horizon in every scenario.

It never trusts the solver. It reads only the instance and the plan's tables, rebuilds the
stock of every unit with numpy, recomputes every criterion and checks every constraint of
`model.md`, listing each violation with its unit, period, scenario and amount.

Notation (`model.md`), periods t = 1..q, scenarios w:
    S^t_i = s0_i + sum_k sum_{t'<=t} s^{t'}_ik                  own plus shared stock
    R^t_i = sum_{(j,i) in W} sum_{t' + tau_ji <= t} x^{t'}_ji    received until t
    D^t_i = sum_{(i,j) in W} sum_{t'<=t} x^{t'}_ij               sent until t
    E^{tw}_i = S^t_i + R^t_i - D^{t-1}_i - d^{tw}_i              excess before sending in t
    NCD^{tw}_i = d^{tw}_i + D^t_i - S^t_i - R^t_i,  NCD+ = max(0, NCD)

Shipments are kept as sparse rows (source, target, period, quantity), never as a dense
units x units x periods cube, so the replay scales to national instances.

Rows the replay cannot place (unknown unit or group, a period outside 1..q, a pair not in W,
a share to a unit outside the group) are listed as violations and left out of the replay.
Aggregated values that are negative are listed under "integrality" and also left out: they
are not decisions in Z+. Fractional values are listed and replayed as they are. A value
within `tolerance` of 0 is no delivery at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from decomposition.problem.instance import Instance
from decomposition.problem.lanes import lag_of, shipping_lanes
from decomposition.problem.objectives import (
    Objective,
    criterion,
    criterion_per_scenario,
    region_positions,
    regret,
)
from decomposition.problem.plan import Plan

PLAIN_CRITERIA = (Objective.PHI1, Objective.PHI2, Objective.PHI3, Objective.PHI4)
VIOLATION_COLUMNS = ["constraint", "unit", "period", "scenario", "amount", "detail"]


@dataclass(frozen=True)
class Violation:
    """One broken constraint: where it breaks and by how much (amount > 0)."""

    constraint: str  # "C1".."C6", "pooling", "integrality", "lane", "group", "horizon", "unknown-unit"
    unit: str | None
    period: int | None  # 1-based
    scenario: str | None
    amount: float
    detail: str


@dataclass(eq=False)
class Evaluation:
    """A plan replayed over the whole horizon in every scenario."""

    on_hand: np.ndarray  # [unit, period]  H^t_i = S^t_i + R^t_i - D^t_i
    in_transit: np.ndarray  # [unit, period] sent towards i, not arrived by the end of t
    net_lent: np.ndarray  # [unit, period]  D^t_i - R^t_i: units lent out, net (in transit counted as sent)
    transfer_effort: float  # sum of x^t_ij x l_ij: unit-days on the road, real days not lags (the pooling effort)
    available: np.ndarray  # [scenario, unit, period]  H^t_i - d^{tw}_i (negative = shortage)
    ncd_plus: np.ndarray  # [scenario, unit, period]  max(0, d + D - S - R)
    phi: dict[str, float]  # "phi1".."phi4" with expectations
    phi_per_scenario: dict[str, np.ndarray]  # "phi1".."phi4": Phi(plan; w)
    total_ncd: np.ndarray  # [scenario]  sum_i sum_t NCD+
    violations: list[Violation] = field(default_factory=list)

    @property
    def feasible(self) -> bool:
        return not self.violations

    def value(self, objective: Objective | str, best_per_scenario: np.ndarray | None = None) -> float:
        """Phi of a plain objective, or max_w (Phi(plan; w) - Phi*(w)) of a regret one."""
        objective = Objective(objective)
        key = objective.base.value
        if not objective.is_regret:
            return self.phi[key]
        if best_per_scenario is None:
            raise ValueError(f"best_per_scenario: objective '{objective.value}' is a regret; give Phi*(w) per scenario")
        best = np.asarray(best_per_scenario, dtype=float)
        if best.shape != self.phi_per_scenario[key].shape:
            raise ValueError(
                f"best_per_scenario: {best.shape[0] if best.ndim else 'a scalar'} value(s) "
                f"for {len(self.total_ncd)} scenario(s)"
            )
        return regret(self.phi_per_scenario[key], best)

    def violations_table(self) -> pd.DataFrame:
        """One row per violation, columns constraint, unit, period, scenario, amount, detail."""
        rows = [[v.constraint, v.unit, v.period, v.scenario, v.amount, v.detail] for v in self.violations]
        return pd.DataFrame(rows, columns=VIOLATION_COLUMNS)


# --- the plan as sparse rows over unit positions ------------------------------------------


@dataclass(frozen=True)
class _Shipments:
    """Aggregated shipments x^t_ij > 0 on lanes of W: parallel arrays, periods 0-based."""

    source: np.ndarray
    target: np.ndarray
    period: np.ndarray
    quantity: np.ndarray
    lag: np.ndarray  # tau_ij, whole periods: when the shipment arrives
    days: np.ndarray  # l_ij, the real days on the road: what the transfer effort counts


@dataclass(frozen=True)
class _Shares:
    """Aggregated shares s^t_ik > 0 to members of their group: parallel arrays, periods 0-based."""

    group: np.ndarray
    unit: np.ndarray
    period: np.ndarray
    quantity: np.ndarray


@dataclass(frozen=True)
class _Stock:
    """The replayed stock series, each [unit, period]."""

    shared: np.ndarray  # S^t_i
    received: np.ndarray  # R^t_i
    sent_until: np.ndarray  # D^t_i
    sent: np.ndarray  # sum_j x^t_ij, departures from i in t
    dispatched_to: np.ndarray  # sum_j x^t_ji, departures towards i in t
    already_travelling: np.ndarray  # [unit] equipment in transit to i when the horizon starts

    @property
    def on_hand(self) -> np.ndarray:
        """H^t_i = S^t_i + R^t_i - D^t_i."""
        return self.shared + self.received - self.sent_until

    @property
    def net_lent(self) -> np.ndarray:
        """D^t_i - R^t_i: units lent out, net (in transit counted as sent)."""
        return self.sent_until - self.received

    @property
    def in_transit(self) -> np.ndarray:
        """Sent towards i and not arrived by the end of t: (already travelling + dispatched until t) - R^t_i."""
        return self.already_travelling[:, None] + np.cumsum(self.dispatched_to, axis=1) - self.received


def _num(value: float) -> str:
    return f"{value:.6g}"


def _days_matrix(instance: Instance) -> np.ndarray:
    """l_ij (shortest-path days over the instance's arcs) as [unit, unit], inf where (i, j) is not in W.

    One matrix, not one for days and one for lags: the lag of a row is lag_of(its days), as the lanes
    define it, so a national instance's units x units array is held once.
    """
    n = len(instance.units)
    lanes = shipping_lanes(instance)
    days = np.full((n, n), np.inf)
    days[lanes.source, lanes.target] = lanes.days
    return days


def _per_unit_period(units: np.ndarray, periods: np.ndarray, values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Sum `values` into a [unit, period] array."""
    out = np.zeros(shape)
    np.add.at(out, (units, periods), values)
    return out


# --- screening: rows the replay cannot place ------------------------------------------------


def _screen_shipments(instance: Instance, frame: pd.DataFrame, days: np.ndarray, out: list[Violation]) -> pd.DataFrame:
    """Shipment rows on known units, inside 1..q and on a lane of W, with positions, days and lag.

    Every other row is listed ("unknown-unit", "horizon", "lane") and dropped.
    """
    index, q = instance.unit_index, instance.n_periods
    source = frame["source"].map(index)
    target = frame["target"].map(index)
    period = frame["period"].to_numpy()
    unknown = (source.isna() | target.isna()).to_numpy()
    outside = ~unknown & ((period < 1) | (period > q))
    placed = ~unknown & ~outside
    src = source.fillna(-1).to_numpy().astype(int)
    dst = target.fillna(-1).to_numpy().astype(int)
    row_days = np.full(len(frame), np.inf)
    row_days[placed] = days[src[placed], dst[placed]]
    off_lane = placed & ~np.isfinite(row_days)
    on_lane = placed & ~off_lane
    row_lag = np.zeros(len(frame), dtype=int)
    row_lag[on_lane] = lag_of(row_days[on_lane])
    for n in np.flatnonzero(unknown | outside | off_lane):
        row = frame.iloc[n]
        s, d, t, x = row["source"], row["target"], int(row["period"]), float(row["quantity"])
        sending = f"shipment {_num(x)} from '{s}' to '{d}' in period {t}"
        if unknown[n]:
            bad = s if s not in index else d
            out.append(Violation("unknown-unit", bad, t, None, abs(x), f"{sending}: unknown unit '{bad}'"))
        elif outside[n]:
            out.append(Violation("horizon", s, t, None, abs(x), f"{sending}: period outside 1..{q}"))
        else:
            out.append(Violation("lane", s, t, None, abs(x), f"{sending}: no path '{s}' -> '{d}' (not in W)"))
    kept = pd.DataFrame(
        {
            "source": src,
            "target": dst,
            "period": period - 1,
            "lag": row_lag,
            "days": row_days,
            "quantity": frame["quantity"].to_numpy(dtype=float),
        }
    )[on_lane]
    return kept.groupby(["source", "target", "period", "lag", "days"], as_index=False)["quantity"].sum()


def _screen_shares(instance: Instance, frame: pd.DataFrame, out: list[Violation]) -> pd.DataFrame:
    """Share rows to a known member of a known group, inside 1..q, with positions.

    Every other row is listed ("unknown-unit", "group", "horizon") and dropped.
    """
    index, q = instance.unit_index, instance.n_periods
    group_index = {g.id: k for k, g in enumerate(instance.groups)}
    members = {(g.id, m) for g in instance.groups for m in g.members}
    unit = frame["unit"].map(index)
    group = frame["group"].map(group_index)
    period = frame["period"].to_numpy()
    unknown = unit.isna().to_numpy()
    is_member = np.array([(g, u) in members for g, u in zip(frame["group"], frame["unit"])], dtype=bool)
    outsider = ~unknown & ~is_member
    outside = ~unknown & ~outsider & ((period < 1) | (period > q))
    for n in np.flatnonzero(unknown | outsider | outside):
        row = frame.iloc[n]
        g, u, t, s = row["group"], row["unit"], int(row["period"]), float(row["quantity"])
        share = f"share {_num(s)} of group '{g}' to '{u}' in period {t}"
        if unknown[n]:
            out.append(Violation("unknown-unit", u, t, None, abs(s), f"{share}: unknown unit '{u}'"))
        elif outsider[n]:
            why = f"unknown group '{g}'" if g not in group_index else f"'{u}' is not a member of '{g}'"
            out.append(Violation("group", u, t, None, abs(s), f"{share}: {why}"))
        else:
            out.append(Violation("horizon", u, t, None, abs(s), f"{share}: period outside 1..{q}"))
    placed = ~(unknown | outsider | outside)
    kept = pd.DataFrame(
        {
            "group": group.fillna(-1).to_numpy().astype(int),
            "unit": unit.fillna(-1).to_numpy().astype(int),
            "period": period - 1,
            "quantity": frame["quantity"].to_numpy(dtype=float),
        }
    )[placed]
    return kept.groupby(["group", "unit", "period"], as_index=False)["quantity"].sum()


def _check_integrality(values: np.ndarray, tolerance: float, describe, out: list[Violation]) -> np.ndarray:
    """Decisions are in Z+: list negative and fractional values; return the mask of values to replay.

    `describe(n)` gives (unit id, 1-based period, what) for row n. Negative values and values
    within tolerance of 0 are not replayed.
    """
    negative = values < -tolerance
    fraction = np.abs(values - np.round(values))
    fractional = ~negative & (fraction > tolerance)
    for n in np.flatnonzero(negative | fractional):
        unit, period, what = describe(n)
        if negative[n]:
            out.append(Violation("integrality", unit, period, None, float(-values[n]), f"{what} is negative"))
        else:
            out.append(Violation("integrality", unit, period, None, float(fraction[n]), f"{what} is not an integer"))
    return values > tolerance


def _placed_shipments(instance: Instance, plan: Plan, tolerance: float, out: list[Violation]) -> _Shipments:
    ids = [u.id for u in instance.units]
    rows = _screen_shipments(instance, plan.shipments, _days_matrix(instance), out)
    src, dst, per = (rows[c].to_numpy(dtype=int) for c in ("source", "target", "period"))
    qty = rows["quantity"].to_numpy(dtype=float)

    def describe(n: int) -> tuple[str, int, str]:
        return (
            ids[src[n]],
            int(per[n]) + 1,
            f"shipment {_num(qty[n])} from '{ids[src[n]]}' to '{ids[dst[n]]}' in period {per[n] + 1}",
        )

    keep = _check_integrality(qty, tolerance, describe, out)
    lag, days = rows["lag"].to_numpy(dtype=int)[keep], rows["days"].to_numpy(dtype=float)[keep]
    return _Shipments(src[keep], dst[keep], per[keep], qty[keep], lag, days)


def _placed_shares(instance: Instance, plan: Plan, tolerance: float, out: list[Violation]) -> _Shares:
    ids = [u.id for u in instance.units]
    rows = _screen_shares(instance, plan.shares, out)
    grp, unit, per = (rows[c].to_numpy(dtype=int) for c in ("group", "unit", "period"))
    qty = rows["quantity"].to_numpy(dtype=float)

    def describe(n: int) -> tuple[str, int, str]:
        group = instance.groups[grp[n]].id
        return (
            ids[unit[n]],
            int(per[n]) + 1,
            f"share {_num(qty[n])} of group '{group}' to '{ids[unit[n]]}' in period {per[n] + 1}",
        )

    keep = _check_integrality(qty, tolerance, describe, out)
    return _Shares(grp[keep], unit[keep], per[keep], qty[keep])


# --- the replay ---------------------------------------------------------------------------


def _replay(instance: Instance, shipments: _Shipments, shares: _Shares) -> _Stock:
    """S, R, D and the departures per unit and period; arrivals after period q never count in R.

    R includes the instance's equipment in transit at the start (`Instance.in_transit`).
    """
    shape = (len(instance.units), instance.n_periods)
    given = _per_unit_period(shares.unit, shares.period, shares.quantity, shape)
    sent = _per_unit_period(shipments.source, shipments.period, shipments.quantity, shape)
    dispatched_to = _per_unit_period(shipments.target, shipments.period, shipments.quantity, shape)
    arrival = shipments.period + shipments.lag
    inside = arrival < shape[1]
    arrived = _per_unit_period(shipments.target[inside], arrival[inside], shipments.quantity[inside], shape)
    arrived += instance.scheduled_arrivals
    return _Stock(
        shared=instance.initial_stock[:, None] + np.cumsum(given, axis=1),
        received=np.cumsum(arrived, axis=1),
        sent_until=np.cumsum(sent, axis=1),
        sent=sent,
        dispatched_to=dispatched_to,
        already_travelling=instance.scheduled_arrivals.sum(axis=1),
    )


# --- constraints C1..C6 -------------------------------------------------------------------


def _check_c1_excess(
    instance: Instance, stock: _Stock, available: np.ndarray, tolerance: float, out: list[Violation]
) -> None:
    """C1: a sender sends at most gamma_i E^{tw}_i in every scenario w.

    sum_j x^t_ij <= gamma_i E^{tw}_i + M_i (1 - u^t_i), with E^{tw}_i = S^t + R^t - D^{t-1} - d^{tw}
    = available^{tw}_i + sum_j x^t_ij.
    """
    gamma = np.array([u.send_share for u in instance.units])
    allowed = gamma[None, :, None] * (available + stock.sent[None])
    sends = stock.sent[None] > tolerance
    broken = sends & (stock.sent[None] > allowed + tolerance)
    for w, i, t in zip(*np.nonzero(broken)):
        unit, sc, x = instance.units[i].id, instance.scenarios[w].id, stock.sent[i, t]
        out.append(
            Violation(
                "C1",
                unit,
                int(t) + 1,
                sc,
                float(x - allowed[w, i, t]),
                f"unit '{unit}' sends {_num(x)} > gamma*excess = {_num(allowed[w, i, t])} "
                f"in period {t + 1}, scenario '{sc}'",
            )
        )


def _delivery_limit(instance: Instance) -> np.ndarray:
    """Q_i per unit, inf where None (unlimited)."""
    return np.array([np.inf if u.max_deliveries is None else u.max_deliveries for u in instance.units], dtype=float)


def _check_c1_capacity(instance: Instance, stock: _Stock, tolerance: float, out: list[Violation]) -> None:
    """C1: sum_j x^t_ij <= g_i Q_i u^t_i (Q_i None = unlimited)."""
    cap = np.array(
        [np.inf if u.max_deliveries is None else u.max_per_delivery * u.max_deliveries for u in instance.units],
        dtype=float,
    )
    for i, t in zip(*np.nonzero(stock.sent > cap[:, None] + tolerance)):
        unit, x = instance.units[i].id, stock.sent[i, t]
        out.append(
            Violation(
                "C1",
                unit,
                int(t) + 1,
                None,
                float(x - cap[i]),
                f"unit '{unit}' sends {_num(x)} > g*Q = {_num(cap[i])} in period {t + 1}",
            )
        )


def _check_c2(instance: Instance, shipments: _Shipments, tolerance: float, out: list[Violation]) -> None:
    """C2: y^t_ij <= x^t_ij <= g_i y^t_ij, i.e. every delivery x^t_ij > 0 carries at most g_i."""
    g = np.array([u.max_per_delivery for u in instance.units], dtype=float)
    cap = g[shipments.source]
    for n in np.flatnonzero(shipments.quantity > cap + tolerance):
        i = instance.units[shipments.source[n]].id
        j = instance.units[shipments.target[n]].id
        t, x = int(shipments.period[n]) + 1, float(shipments.quantity[n])
        out.append(
            Violation(
                "C2",
                i,
                t,
                None,
                x - float(cap[n]),
                f"delivery '{i}' -> '{j}' carries {_num(x)} > g = {_num(cap[n])} in period {t}",
            )
        )


def _check_c3(instance: Instance, shipments: _Shipments, out: list[Violation]) -> None:
    """C3: sum_j y^t_ij <= Q_i (Q_i None = unlimited); y^t_ij = 1 iff x^t_ij > 0."""
    shape = (len(instance.units), instance.n_periods)
    count = _per_unit_period(shipments.source, shipments.period, np.ones(len(shipments.source)), shape)
    limit = _delivery_limit(instance)
    for i, t in zip(*np.nonzero(count > limit[:, None])):
        unit = instance.units[i].id
        out.append(
            Violation(
                "C3",
                unit,
                int(t) + 1,
                None,
                float(count[i, t] - limit[i]),
                f"unit '{unit}' makes {int(count[i, t])} deliveries > Q = {int(limit[i])} in period {t + 1}",
            )
        )


def _check_c4(instance: Instance, shares: _Shares, tolerance: float, out: list[Violation]) -> None:
    """C4: sum_{i in N_k} s^t_ik = q^t_k (<= q^t_k when the group may keep some)."""
    if not instance.groups:
        return
    given = _per_unit_period(shares.group, shares.period, shares.quantity, (len(instance.groups), instance.n_periods))
    extra = instance.extra_stock_array
    over = given > extra + tolerance
    under = (given < extra - tolerance) & np.array([g.share_all for g in instance.groups])[:, None]
    for k, t in zip(*np.nonzero(over | under)):
        group = instance.groups[k]
        verb = "shares" if group.share_all else "may share at most"
        relation = ">" if over[k, t] else "<"
        out.append(
            Violation(
                "C4",
                None,
                int(t) + 1,
                None,
                float(abs(given[k, t] - extra[k, t])),
                f"group '{group.id}' gives {_num(given[k, t])} {relation} q = {_num(extra[k, t])} "
                f"in period {t + 1} (it {verb} its extra stock)",
            )
        )


def _check_c5(instance: Instance, stock: _Stock, tolerance: float, out: list[Violation]) -> None:
    """C5: y^t_ij <= u^t_i and y^t_ji <= 1 - u^t_i: no unit both sends and is sent to in period t.

    Both are departures decided in t (arrivals in t do not count). Amount: the smaller of the two
    flows, the least that must move to repair it.
    """
    both = (stock.sent > tolerance) & (stock.dispatched_to > tolerance)
    both[[u.cross_dock for u in instance.units]] = False  # depots receive and dispatch every day
    for i, t in zip(*np.nonzero(both)):
        unit, out_, in_ = instance.units[i].id, stock.sent[i, t], stock.dispatched_to[i, t]
        out.append(
            Violation(
                "C5",
                unit,
                int(t) + 1,
                None,
                float(min(out_, in_)),
                f"unit '{unit}' sends {_num(out_)} and is sent {_num(in_)} in period {t + 1}",
            )
        )


def _check_c6(instance: Instance, available: np.ndarray, tolerance: float, out: list[Violation]) -> None:
    """C6: S^t_i + R^t_i - D^t_i - d^{tw}_i <= a_i in every scenario (a_i None = unlimited)."""
    storage = np.array([np.inf if u.storage is None else u.storage for u in instance.units], dtype=float)
    broken = available > storage[None, :, None] + tolerance
    for w, i, t in zip(*np.nonzero(broken)):
        unit, sc = instance.units[i].id, instance.scenarios[w].id
        out.append(
            Violation(
                "C6",
                unit,
                int(t) + 1,
                sc,
                float(available[w, i, t] - storage[i]),
                f"unit '{unit}' stores {_num(available[w, i, t])} not in use > a = {_num(storage[i])} "
                f"in period {t + 1}, scenario '{sc}'",
            )
        )


def _check_pooling_cap(instance: Instance, stock: _Stock, tolerance: float, out: list[Violation]) -> None:
    """Pooling cap: D^t_i - R^t_i <= cap_i (units lent out, net) for the units that have one."""
    lent = stock.net_lent
    for i, unit in enumerate(instance.units):
        if unit.max_net_lent is None:
            continue
        for t in np.flatnonzero(lent[i] > unit.max_net_lent + tolerance):
            out.append(
                Violation(
                    "pooling",
                    unit.id,
                    int(t) + 1,
                    None,
                    float(lent[i, t] - unit.max_net_lent),
                    f"unit '{unit.id}' has lent out {_num(lent[i, t])} units net by period {t + 1} "
                    f"> its pooling cap {unit.max_net_lent}",
                )
            )


# --- criteria -----------------------------------------------------------------------------


def _criteria(instance: Instance, ncd_plus: np.ndarray) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Phi1..Phi4 with expectations E[.] = sum_w p_w (.) and per scenario alone."""
    regions = region_positions(instance)
    phi = {b.value: criterion(b, ncd_plus, instance.probabilities, regions) for b in PLAIN_CRITERIA}
    per_scenario = {b.value: criterion_per_scenario(b, ncd_plus, regions) for b in PLAIN_CRITERIA}
    return phi, per_scenario


def evaluate(instance: Instance, plan: Plan, *, tolerance: float = 1e-6) -> Evaluation:
    """Replay `plan` on `instance` over the whole horizon in every scenario and check C1..C6.

    available^{tw}_i = H^t_i - d^{tw}_i = -NCD^{tw}_i;  NCD+ = max(0, -available).
    """
    violations: list[Violation] = []
    shipments = _placed_shipments(instance, plan, tolerance, violations)
    shares = _placed_shares(instance, plan, tolerance, violations)
    stock = _replay(instance, shipments, shares)
    available = stock.on_hand[None] - instance.demand_array
    ncd_plus = np.maximum(instance.demand_array - stock.on_hand[None], 0.0)  # d + D - S - R, never -0.0
    _check_c1_excess(instance, stock, available, tolerance, violations)
    _check_c1_capacity(instance, stock, tolerance, violations)
    _check_c2(instance, shipments, tolerance, violations)
    _check_c3(instance, shipments, violations)
    _check_c4(instance, shares, tolerance, violations)
    _check_c5(instance, stock, tolerance, violations)
    _check_c6(instance, available, tolerance, violations)
    _check_pooling_cap(instance, stock, tolerance, violations)
    phi, per_scenario = _criteria(instance, ncd_plus)
    return Evaluation(
        on_hand=stock.on_hand,
        in_transit=stock.in_transit,
        net_lent=stock.net_lent,
        transfer_effort=float(np.dot(shipments.quantity, shipments.days)),
        available=available,
        ncd_plus=ncd_plus,
        phi=phi,
        phi_per_scenario=per_scenario,
        total_ncd=ncd_plus.sum(axis=(1, 2)),
        violations=violations,
    )
