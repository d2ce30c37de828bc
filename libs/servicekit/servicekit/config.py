"""Service configuration: a YAML file with `${VAR:default}` values, read the way `nameko run` reads it."""
import os

import yaml
from nameko.cli.main import setup_yaml_parser

setup_yaml_parser()


def load_config(path, **overrides):
    """Load a service's config.yaml, substituting `${VAR:default}` from the environment.

    `overrides` win over the file (tests use them to point at their own vhost and database).
    """
    with open(path) as handle:
        config = yaml.safe_load(handle) or {}
    config.update(overrides)
    return config


def service_config_path(service_dir):
    return os.path.join(service_dir, "config.yaml")
