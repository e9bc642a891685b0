"""Drift monitoring: profiles stored with models, batch comparisons and their reports."""
