"""templates/ and migrations/ are found from an editable install and from `pip install .`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PROBE = ("from callcenter import paths; "
         "print(paths.TEMPLATES_DIR); print(paths.MIGRATIONS_DIR); "
         "print((paths.TEMPLATES_DIR / 'base.html').is_file(), "
         "(paths.MIGRATIONS_DIR / 'env.py').is_file(), "
         "any((paths.MIGRATIONS_DIR / 'versions').glob('0001_*.py')), "
         "(paths.STATIC_DIR / 'app.css').is_file())")


def test_editable_install_finds_the_top_level_folders(tmp_path):
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, capture_output=True,
                         text=True, check=True).stdout.splitlines()
    assert Path(out[0]) == ROOT / "templates" and Path(out[1]) == ROOT / "migrations"
    assert out[2] == "True True True True"


@pytest.mark.slow
def test_plain_install_carries_templates_and_migrations(tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--target", str(target), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, capture_output=True,
                         text=True, check=True, env={"PYTHONPATH": str(target)}).stdout
    lines = out.splitlines()
    assert Path(lines[0]) == target / "callcenter" / "templates"
    assert Path(lines[1]) == target / "callcenter" / "migrations"
    assert lines[2] == "True True True True"
    assert (target / "callcenter" / "templates" / "admin" / "users.html").is_file()
    # Every subpackage of the source tree is installed (setup.cfg lists packages by hand).
    packages = sorted(".".join(init.parent.relative_to(ROOT).parts)
                      for init in (ROOT / "callcenter").rglob("__init__.py"))
    probe = ("import importlib, sys; "
             "print('\\n'.join(importlib.import_module(name).__file__ for name in sys.argv[1:]))")
    files = subprocess.run([sys.executable, "-c", probe, *packages], cwd=tmp_path,
                           capture_output=True, text=True, check=True,
                           env={"PYTHONPATH": str(target)}).stdout.splitlines()
    assert "callcenter.cdr" in packages and len(files) == len(packages)
    assert all(Path(file).is_relative_to(target) for file in files), files
    # The example dashboard and alert rules ship with the package.
    assert (target / "callcenter" / "monitoring" / "dashboard.json").is_file()
    assert (target / "callcenter" / "monitoring" / "alerts.yml").is_file()
    # So do the production files (README: Running in production).
    for name in ("callcenter.service", "freeswitch.service", "callcenter.env", "nginx.conf",
                 "logrotate.conf"):
        assert (target / "callcenter" / "deploy" / name).is_file(), name
