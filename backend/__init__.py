"""Backend services of the project."""
