"""Judging models on the fixed hold-out: metrics, the paired bootstrap and the promotion gate."""
