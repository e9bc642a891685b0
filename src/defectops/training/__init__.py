"""The back-fill: prepare the rows, train one challenger per chunk through the shared training
step, gate and record it, resume after a crash."""
