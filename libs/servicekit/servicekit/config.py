"""Service configuration: a YAML file with `${VAR:default}` values, read the way `nameko run` reads it.

nameko's own `setup_yaml_parser()` installs its `${VAR}` resolver on PyYAML's global SafeLoader, which
would change every other YAML load in the process (compose files, fixtures). The kit uses the same
constructor and pattern on a loader class of its own instead.
"""
import functools
import os

import yaml
from nameko.cli.main import IMPLICIT_ENV_VAR_MATCHER, env_var_constructor


class ConfigLoader(yaml.SafeLoader):
    pass


ConfigLoader.add_constructor("!env_var", env_var_constructor)
ConfigLoader.add_constructor("!raw_env_var", functools.partial(env_var_constructor, raw=True))
ConfigLoader.add_implicit_resolver("!env_var", IMPLICIT_ENV_VAR_MATCHER, None)


def load_config(path, **overrides):
    """Load a service's config.yaml, substituting `${VAR:default}` from the environment.

    `overrides` win over the file (tests use them to point at their own vhost and database).
    """
    with open(path) as handle:
        config = yaml.load(handle, Loader=ConfigLoader) or {}
    config.update(overrides)
    return config


def service_config_path(service_dir):
    return os.path.join(service_dir, "config.yaml")
