"""Files for running the call center in production (README: Running in production): systemd
units for the controller and FreeSWITCH, the environment file both read, a TLS reverse proxy for
nginx and FreeSWITCH's log rotation. Examples to copy and edit, checked by tests/test_deploy.py."""

from pathlib import Path

DEPLOY_DIR = Path(__file__).parent
