"""Champion / challenger in the MLflow model registry.

Every new version gets the alias `challenger`. It becomes `champion` when
there is none yet, when it beats the current champion on the same
out-of-time window by the configured AUC margin, or when forced (`--promote`,
with a reason that is logged).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Promotion", "promotion_decision"]


@dataclass(frozen=True)
class Promotion:
    promote: bool
    reason: str


def promotion_decision(candidate_auc: float, champion_auc: float | None, margin: float,
                       force: bool = False, force_reason: str | None = None) -> Promotion:
    if force:
        if not force_reason:
            raise ValueError("--promote needs --reason: a forced promotion must say why")
        return Promotion(True, f"forced: {force_reason}")
    if champion_auc is None:
        return Promotion(True, "no champion yet")
    if candidate_auc >= champion_auc + margin:
        return Promotion(True, f"out-of-time AUC {candidate_auc:.4f} beats the champion's {champion_auc:.4f} "
                               f"by at least {margin}")
    return Promotion(False, f"out-of-time AUC {candidate_auc:.4f} does not beat the champion's "
                            f"{champion_auc:.4f} by {margin}; stays challenger")
