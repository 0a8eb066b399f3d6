"""A plan: the decisions of `model.md`, the same under every scenario.

Shipments x^t_ij and shares s^t_ik as tidy tables keyed by unit and group ids, so a plan can be
written to CSV / Parquet, read back and replayed by the evaluator without the model that made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

SHIPMENT_COLUMNS = ["period", "source", "target", "quantity"]
SHARE_COLUMNS = ["period", "group", "unit", "quantity"]


@dataclass
class Plan:
    """Shipments (period, source, target, quantity) and shares (period, group, unit, quantity).

    Periods are 1-based. Rows with quantity 0 are dropped.
    """

    shipments: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SHIPMENT_COLUMNS))
    shares: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SHARE_COLUMNS))

    def __post_init__(self) -> None:
        self.shipments = _tidy(self.shipments, SHIPMENT_COLUMNS)
        self.shares = _tidy(self.shares, SHARE_COLUMNS)

    @property
    def units_shipped(self) -> int:
        return int(self.shipments["quantity"].sum())

    def with_shipments(self, extra: pd.DataFrame) -> Plan:
        """This plan with the shipment rows `extra` (SHIPMENT_COLUMNS) added: one row per lane and period."""
        merged = pd.concat([self.shipments, extra], ignore_index=True)
        return Plan(merged.groupby(SHIPMENT_COLUMNS[:-1], as_index=False)["quantity"].sum(), self.shares)


def _tidy(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    frame = frame.reindex(columns=columns)
    frame = frame[frame["quantity"].fillna(0) != 0] if len(frame) else frame
    frame = frame.astype({"period": "int64", "quantity": "float64"})
    for c in columns[1:-1]:
        frame[c] = frame[c].astype(str)
    return frame.sort_values(columns[:-1]).reset_index(drop=True)
