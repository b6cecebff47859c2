"""The registered form of the model: an MLflow pyfunc around `RiskModel`.

    mlflow.pyfunc.load_model("models:/zhixing-execution-risk@champion").predict(case_features_frame)

takes the gold feature columns as they are in `case_features` and returns the
calibrated probability of label 1.
"""

from __future__ import annotations

import pickle

import mlflow.pyfunc

__all__ = ["RiskPyfunc"]


class RiskPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        with open(context.artifacts["risk_model"], "rb") as fh:
            self.model = pickle.load(fh)  # noqa: S301 - our own artifact, written by models.train

    def predict(self, context, model_input, params=None):
        return self.model.predict_proba(model_input)
