"""The baseline: a scikit-learn logistic regression on the same features.

Money and counts are heavy-tailed, so numbers go through a signed log1p,
missing values are imputed with the training median (plus a missing flag),
and categoricals are one-hot encoded. LightGBM must beat it out of time.
"""

from __future__ import annotations

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

__all__ = ["baseline"]


def _signed_log1p(x):
    return np.sign(x) * np.log1p(np.abs(x))


def baseline(numeric: list[str], categorical: list[str], seed: int):
    numbers = make_pipeline(SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                            FunctionTransformer(_signed_log1p), StandardScaler())
    categories = make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                               OneHotEncoder(handle_unknown="ignore"))
    prep = ColumnTransformer([("num", numbers, numeric), ("cat", categories, categorical)])
    return make_pipeline(prep, LogisticRegression(C=0.5, max_iter=2000, random_state=seed))
