"""The ``sketchkit`` command line (typer). Each command module keeps torch out of import time."""
