"""Where the package's data directories are, in an editable install and a plain one alike."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def package_data_dir(name: str) -> Path:
    """The directory of `callcenter.<name>` (templates, migrations): top-level folders in the
    repository, mapped into the package by setup.cfg."""
    spec = importlib.util.find_spec(f"callcenter.{name}")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"callcenter.{name} is not installed with the package")
    return Path(next(iter(spec.submodule_search_locations)))


TEMPLATES_DIR = package_data_dir("templates")
MIGRATIONS_DIR = package_data_dir("migrations")
STATIC_DIR = Path(__file__).parent / "static"
