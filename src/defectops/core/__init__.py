"""What every stage shares: the settings, the two kinds of error, atomic writes, the run lock and
the failpoints crash tests aim at."""
