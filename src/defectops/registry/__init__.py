"""Where models live: the local artifact tree, MLflow tracking and aliases, the alias history,
verified model files and the pyfunc model."""
