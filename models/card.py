"""The model card: what the model is for, what it learned from, how well it
does overall and by slice, and what it must not be used for."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from features.catalogue import DIMENSIONS, Feature

__all__ = ["model_card"]


def _table(frame: pd.DataFrame, digits: int = 3) -> str:
    if frame.empty:
        return "(none)"
    shown = frame.copy()
    for c in shown.columns:
        if pd.api.types.is_float_dtype(shown[c]):
            shown[c] = shown[c].map(lambda v: "" if pd.isna(v) else f"{v:.{digits}f}")
    header = "| " + " | ".join(map(str, shown.columns)) + " |"
    rule = "|" + "---|" * len(shown.columns)
    rows = ["| " + " | ".join(map(str, r)) + " |" for r in shown.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def model_card(*, run_date: dt.date, lineage: dict, bounds: dict, counts: dict, features: list[Feature],
               sensitive: list[str], monotone: dict[str, int], params: dict, rounds: int, metrics: dict,
               baseline_auc: float, ceiling_auc: float | None, decile_table: pd.DataFrame,
               band_table: pd.DataFrame, slice_table: pd.DataFrame, gaps: pd.DataFrame, calibration: str) -> str:
    folds = pd.DataFrame([{"fold": k, "cases": counts.get(k, 0), "filed from": str(v[0]), "filed to": str(v[1])}
                          for k, v in bounds.items()])
    by_dim = "\n".join(f"- **{title}** ({sum(f.dimension == key for f in features)}): "
                       + ", ".join(f"`{f.name}`" for f in features if f.dimension == key)
                       for key, title in DIMENSIONS.items())
    constraints = "\n".join(f"- `{name}`: risk never {'rises' if sign < 0 else 'falls'} as it grows"
                            for name, sign in sorted(monotone.items())) or "- none"
    ceiling = (f"- AUC of the generator's true probabilities on the same cases (the ceiling): {ceiling_auc:.4f}\n"
               if ceiling_auc is not None else "")
    return f"""# Model card: zhixing execution-risk model (trained {run_date})

## Intended use
Decision support for filing clerks and enforcement judges: at filing, rank new
enforcement cases by the calibrated probability that they will not be
performed within 180 days, with the top reasons, so that asset inquiries and
measures can be prioritised. **Never an automatic sanction**: no listing on the
dishonest-debtor list, consumption ban or other measure may follow from the
score alone; every measure needs a judge's decision on the facts.

## Training data
- Gold table `{lineage['gold_table']}`, Delta version {lineage['gold_version']} (read it again by time travel);
  labels per contract section 4 re-evaluated at {lineage['label_as_of']}.
- Only labelled cases whose 180-day horizon had passed by the run date: a case filed in
  the last 180 days is labelled only if it closed early, which favours paid cases.
- Split out of time, never at random:

{_table(folds)}

## Features ({len(features)})
Every feature uses only records dated strictly before the filing date (see FEATURES.md).
{by_dim}

Sensitive attributes kept out of the features and reported only as slices: {', '.join(sensitive) or 'none'}.

## Model
LightGBM (native categoricals), parameters {params}: the number of trees chosen by early
stopping on the early-stopping fold, then refitted on training plus early-stopping folds
({rounds} trees), calibrated with {calibration} on the calibration fold.
Monotone constraints, where the domain is unambiguous:
{constraints}

## Performance on the out-of-time window
- AUC {metrics['auc']:.4f}, KS {metrics['ks']:.4f}, PR-AUC {metrics['pr_auc']:.4f}, Brier {metrics['brier']:.4f},
  expected calibration error {metrics['ece']:.4f}, positive rate {metrics['positive_rate']:.3f}, n = {int(metrics['n'])}
- Baseline logistic regression on the same features: AUC {baseline_auc:.4f}
{ceiling}
### Lift and capture by decile
{_table(decile_table)}

### Risk bands as the clerks see them (configured thresholds, `scoring.high` / `scoring.medium`)
{_table(band_table)}

## Slices (court, age band, gender, province of household registration)
{_table(slice_table)}

### Fairness gaps (max - min across a slice's values with at least 30 cases)
{_table(gaps)}

## Caveats
- Trained on what the agencies delivered; a debtor whose assets are held by others, abroad or
  in cash looks poorer than they are, and one with an unlinked e-commerce identity spends nothing.
- E-commerce and social features rest on entity resolution (inference, not identity).
- Outcomes depend on the court's own enforcement effort, which the model cannot see; scores of
  courts with few cases are less certain.
- Gaps between slices are reported, not corrected; review them before each promotion.
- Synthetic sample data: the figures above describe the pipeline, not a real court.
"""
