"""The production loop around the models: ingest, late labels, the retrain policy, scoring files,
the CI evaluate stage and the Prefect flow."""
