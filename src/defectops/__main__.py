"""``python -m defectops`` runs the CLI."""

from defectops.cli import main

main()
