"""Where rows are read, validated, fitted and scored: the Engine protocol, the local engine and the
Dask engine."""
