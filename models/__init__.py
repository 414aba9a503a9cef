"""The ranking model: features, estimators, MLflow packaging, metrics, registry."""
