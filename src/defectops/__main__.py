"""``python -m defectops`` runs the CLI."""

from defectops.cli.verbs import main

main()
