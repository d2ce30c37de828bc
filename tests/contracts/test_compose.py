"""docker-compose.yml, the Dockerfile and deploy/ agree with the repository, checked without a Docker engine.

What a container runs must exist in the image: every path a command names, every `<svc>.service`
module, every `module:Class`. Every service gets its own database, billing scales on its own, the
gateway publishes 8080 with a health check, Prometheus scrapes what runs, and the Kubernetes
manifests say the same. When a Compose CLI is installed (`docker compose` or a standalone v2
`docker-compose`), `config --quiet` also validates the file against Compose's own schema; it only
parses, so it needs no engine. The Python checks run either way.
"""
import os
import posixpath
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
K8S_DIR = REPO / "deploy" / "k8s"
SERVICES = {  # the nameko services: package name -> service class
    "identity": "IdentityService",
    "roster": "RosterService",
    "billing": "BillingService",
    "messaging": "MessagingService",
}
APP_PROCESSES = [*SERVICES, "gateway"]

# Every key a service may have in the Compose specification (x-* extensions aside): a typo fails here.
COMPOSE_SERVICE_KEYS = {
    "annotations", "attach", "blkio_config", "build", "cap_add", "cap_drop", "cgroup", "cgroup_parent",
    "command", "configs", "container_name", "cpu_count", "cpu_percent", "cpu_period", "cpu_quota",
    "cpu_rt_period", "cpu_rt_runtime", "cpu_shares", "cpus", "cpuset", "credential_spec", "depends_on",
    "deploy", "develop", "device_cgroup_rules", "devices", "dns", "dns_opt", "dns_search", "domainname",
    "entrypoint", "env_file", "environment", "expose", "extends", "external_links", "extra_hosts", "gpus",
    "group_add", "healthcheck", "hostname", "image", "init", "ipc", "isolation", "label_file", "labels",
    "links", "logging", "mac_address", "mem_limit", "mem_reservation", "mem_swappiness", "memswap_limit",
    "models", "network_mode", "networks", "oom_kill_disable", "oom_score_adj", "pid", "pids_limit",
    "platform", "ports", "post_start", "pre_stop", "privileged", "profiles", "provider", "pull_policy",
    "read_only", "restart", "runtime", "scale", "secrets", "security_opt", "shm_size", "stdin_open",
    "stop_grace_period", "stop_signal", "storage_opt", "sysctls", "tmpfs", "tty", "ulimits",
    "use_api_socket", "user", "userns_mode", "uts", "volumes", "volumes_from", "working_dir",
}
COMPOSE_TOP_KEYS = {"name", "version", "services", "volumes", "networks", "configs", "secrets", "include", "models"}
DEPENDS_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


# ---------------------------------------------------------------- Compose interpolation, as Compose does it

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^{}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*)|(?P<invalid>))")
_BRACED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|-|:\?|\?|:\+|\+)(?P<arg>.*))?$", re.S)


def interpolate_string(text, env):
    def replace(match):
        if match.group("escaped"):
            return "$"
        if match.group("named"):
            return env.get(match.group("named"), "")
        if match.group("braced") is None:
            raise ValueError("invalid $ in %r (write $$ for a literal $)" % text)
        braced = _BRACED.match(match.group("braced"))
        if not braced:
            raise ValueError("invalid interpolation ${%s} in %r" % (match.group("braced"), text))
        name, op, arg = braced.group("name", "op", "arg")
        value = env.get(name)
        if op in (":-", "-"):
            return value if (value if op == ":-" else value is not None) else arg
        if op in (":?", "?"):
            if (not value) if op == ":?" else value is None:
                raise ValueError("required variable %s is missing: %s" % (name, arg))
            return value
        if op in (":+", "+"):
            return arg if (value if op == ":+" else value is not None) else ""
        return value or ""
    return _VARIABLE.sub(replace, text)


def interpolate(node, env):
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(value, env) for value in node]
    if isinstance(node, str):
        return interpolate_string(node, env)
    return node


def load_compose_text():
    assert COMPOSE_FILE.is_file(), "docker-compose.yml is missing"
    return COMPOSE_FILE.read_text()


@pytest.fixture(scope="module")
def raw():
    """docker-compose.yml as written (YAML anchors and merge keys resolved, `${...}` not)."""
    return yaml.safe_load(load_compose_text())


@pytest.fixture(scope="module")
def compose(raw):
    """docker-compose.yml as Compose sees it with an empty environment: every dev default applied."""
    return interpolate(raw, env={})


def environment(service):
    """A service's environment as a dict (Compose accepts a mapping or a list of KEY=VALUE)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return dict(env)


def argv_of(command):
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def volume_mounts(service):
    """(source, target, type) of each of a service's volumes, short or long syntax."""
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            mounts.append((volume.get("source"), volume["target"], volume.get("type", "volume")))
            continue
        parts = volume.split(":")
        source, target = (parts[0], parts[1]) if len(parts) > 1 else (None, parts[0])
        kind = "bind" if source and (source.startswith((".", "/", "~"))) else "volume"
        mounts.append((source, target, kind))
    return mounts


def mounted_at(service, path):
    """The mount (source, target, type) that holds container path `path`, or None."""
    best = None
    for mount in volume_mounts(service):
        target = mount[1].rstrip("/")
        if (path == target or path.startswith(target + "/")) and (best is None or len(target) > len(best[1])):
            best = mount
    return best


def published_ports(service):
    """(host port, container port) pairs, short or long syntax."""
    pairs = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            pairs.append((str(port.get("published", "")), str(port["target"])))
            continue
        spec = str(port).split("/")[0]
        parts = spec.rsplit(":", 2) if spec.count(":") >= 2 else spec.split(":")
        pairs.append((parts[-2] if len(parts) > 1 else "", parts[-1]))
    return pairs


# ---------------------------------------------------------------- what a command needs from the repository

PATH_TOKEN = re.compile(r"^(?:\./)?(?:services|libs|deploy|bench)/[^\s'\"]+$")
SHELL_WORDS = {"set", "echo", "for", "do", "done", "if", "then", "else", "elif", "fi", "case", "esac", "while",
               "until", "export", "cd", "local", "return", "exit", "trap", "wait", ":", "true", "false", "test", "["}
SEPARATORS = {"&&", "||", ";", "|"}


def package_folders():
    """Top-level package name -> its folder, for every project (libs/<p>/<p>, services/<p>/<p>)."""
    folders = {}
    for manifest in sorted(REPO.glob("libs/*/pyproject.toml")) + sorted(REPO.glob("services/*/pyproject.toml")):
        folders[manifest.parent.name] = manifest.parent / manifest.parent.name
    return folders


def module_file(dotted):
    """The file a dotted module of the repository's own packages lives in, or None if it does not exist."""
    top, _, rest = dotted.partition(".")
    folder = package_folders().get(top)
    if folder is None:
        return None
    base = folder.joinpath(*rest.split(".")) if rest else folder
    for candidate in ([base.with_suffix(".py")] if rest else []) + [base / "__init__.py"]:
        if candidate.is_file():
            return candidate
    return None


def module_problems(reference, origin):
    """`module` or `module:attribute` of one of the repository's packages: it must exist and define it."""
    dotted, _, attribute = reference.partition(":")
    top = dotted.partition(".")[0]
    if top not in package_folders():
        return ["%s: %s is not a module of any package in libs/ or services/" % (origin, dotted)]
    found = module_file(dotted)
    if found is None:
        expected = package_folders()[top].joinpath(*dotted.split(".")[1:])
        return ["%s: module %s not found (expected %s.py)" % (origin, dotted, expected.relative_to(REPO))]
    if attribute:
        name = re.escape(attribute)
        defines = re.compile(r"^\s*(?:class|def)\s+%s\b|^\s*%s\s*(?::[^=]*)?=|^\s*(?:from\s+\S+\s+)?import\b.*\b%s\b"
                             % (name, name, name), re.M)
        if not defines.search(found.read_text()):
            return ["%s: %s does not define %s" % (origin, found.relative_to(REPO), attribute)]
    return []


def option(args, *names):
    """The value of the first of `names` in args (`--opt value` or `--opt=value`), or None."""
    for index, arg in enumerate(args):
        for name in names:
            if arg == name and index + 1 < len(args):
                return args[index + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def positionals(args, options_with_values):
    result, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in options_with_values:
            skip = True
        elif not arg.startswith("-"):
            result.append(arg)
    return result


def script_commands(text):
    """The commands of a shell script, as argv lists (one per `a && b`, `a; b` part; shell words left out)."""
    commands = []
    for line in re.sub(r"\\\n", " ", text).splitlines():
        if not line.strip() or line.strip().startswith("#"):
            continue
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError:
            continue
        part = []
        for token in tokens + [";"]:
            if token in SEPARATORS:
                if part and part[0] not in SHELL_WORDS and not re.match(r"^[A-Za-z_]\w*=", part[0]):
                    commands.append(part)
                part = []
            else:
                part.append(token)
    return commands


def expand(argv, origin):
    """(argv, origin) for a command and, for `sh script` / `sh -c "..."`, every command it runs."""
    argv = list(argv)
    while argv and (argv[0] == "exec" or re.match(r"^[A-Za-z_]\w*=", argv[0])):
        argv.pop(0)
    if not argv:
        return []
    found = [(argv, origin)]
    program, args = posixpath.basename(argv[0]), argv[1:]
    if program in ("sh", "bash", "dash"):
        if "-c" in args and args.index("-c") + 1 < len(args):
            for inner in script_commands(args[args.index("-c") + 1]):
                found += expand(inner, origin)
        else:
            scripts = [arg for arg in args if not arg.startswith("-")]
            if scripts and (REPO / scripts[0]).is_file():
                for inner in script_commands((REPO / scripts[0]).read_text()):
                    found += expand(inner, "%s -> %s" % (origin, scripts[0]))
    return found


def command_problems(argv, origin):
    """Everything a command names in the repository that is missing: files, modules, classes."""
    problems = []
    for command, where in expand(argv, origin):
        program, args = posixpath.basename(command[0]), command[1:]
        for arg in args:
            value = arg.split("=", 1)[1] if arg.startswith("-") and "=" in arg else arg
            if PATH_TOKEN.match(value) and not (REPO / value).exists():
                problems.append("%s: %s does not exist" % (where, value))
        if program in ("sh", "bash", "dash") and "-c" not in args:
            scripts = [arg for arg in args if not arg.startswith("-")]
            if not scripts:
                problems.append("%s: %s without a script" % (where, program))
        elif program == "nameko":
            if args[:1] != ["run"]:
                problems.append("%s: expected `nameko run`, got %s" % (where, " ".join(command)))
                continue
            if not option(args, "--config"):
                problems.append("%s: `nameko run` without --config" % where)
            modules = positionals(args[1:], {"--config", "--broker", "--backdoor-port"})
            if not modules:
                problems.append("%s: `nameko run` names no service module" % where)
            for module in modules:
                if ":" not in module:  # nameko would also run every imported class with entrypoints (a base)
                    problems.append("%s: name the class, `nameko run ... %s:<Class>`" % (where, module))
                problems += module_problems(module, where)
        elif program == "gunicorn":
            if not option(args, "-c", "--config"):
                problems.append("%s: gunicorn without -c" % where)
            apps = positionals(args, {"-c", "--config", "-b", "--bind", "-w", "--workers", "--threads", "-k"})
            if len(apps) != 1 or ":" not in apps[0]:
                problems.append("%s: gunicorn needs one `module:app`, got %s" % (where, apps))
            else:
                problems += module_problems(apps[0], where)
        elif program == "alembic":
            if not option(args, "-c", "--config"):
                problems.append("%s: alembic without -c services/<svc>/alembic.ini" % where)
        elif program.startswith("python"):
            if args[:1] == ["-m"] and len(args) > 1:
                module = args[1]
                if module.partition(".")[0] in package_folders():
                    problems += module_problems(module, where)
                service = option(args, "--service")
                if service:
                    problems += module_problems(service, where)
    return problems


def commands_named(argv, program):
    return [command for command, _ in expand(argv, "") if posixpath.basename(command[0]) == program]


def referenced_paths(argv):
    """Repository files a command needs inside the image: named paths and the modules it imports."""
    paths = set()
    for command, _ in expand(argv, ""):
        for arg in command:
            value = arg.split("=", 1)[1] if arg.startswith("-") and "=" in arg else arg
            if PATH_TOKEN.match(value):
                paths.add(value.removeprefix("./"))
            for candidate in re.findall(r"^([A-Za-z_][\w.]*)(?::\w+)?$", value):
                found = module_file(candidate) if candidate.partition(".")[0] in package_folders() else None
                if found is not None:
                    paths.add(str(found.relative_to(REPO)))
    return paths


# ---------------------------------------------------------------- the compose file itself

def test_compose_file_parses_and_uses_only_known_keys(raw):
    assert isinstance(raw, dict) and isinstance(raw.get("services"), dict)
    unknown_top = {key for key in raw if not key.startswith("x-")} - COMPOSE_TOP_KEYS
    assert not unknown_top, "not Compose keys: %s" % unknown_top
    expected = {"rabbitmq", "postgres", "keys", "migrate", "identity", "roster", "billing", "messaging",
                "gateway", "prometheus"}
    assert expected <= set(raw["services"]), "missing services: %s" % (expected - set(raw["services"]))
    for name, service in raw["services"].items():
        unknown = {key for key in service if not key.startswith("x-")} - COMPOSE_SERVICE_KEYS
        assert not unknown, "service %s: not Compose keys: %s" % (name, unknown)
        assert "image" in service or "build" in service, "service %s has neither image nor build" % name


def compose_cli():
    """A Compose v2 CLI if one is installed (only parses: no engine needed), else None."""
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=60)
        if probe.returncode == 0:
            return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    if standalone:
        with open(standalone, "rb") as handle:
            is_script = handle.read(2) == b"#!"  # a Python wrapper or Compose v1: its exit code proves nothing
        if not is_script:
            return [standalone]
    return None


def test_compose_config_accepts_the_file(raw):
    # Python: every ${...} interpolates, with no variable set and with overrides, into valid values.
    for env in ({}, {"BILLING_REPLICAS": "5", "PORTAL_TAG": "1.2.3", "GATEWAY_WORKERS": "4"}):
        resolved = interpolate(raw, env)
        for name, service in resolved["services"].items():
            replicas = (service.get("deploy") or {}).get("replicas")
            if replicas is not None:
                assert str(replicas).isdigit() and int(replicas) >= 1, "%s: replicas %r" % (name, replicas)
            for host, container in published_ports(service):
                assert container.isdigit(), "%s: container port %r" % (name, container)
                assert host == "" or host.isdigit(), "%s: host port %r" % (name, host)
    # Compose itself, when it is installed here: `config` validates against its schema and interpolates.
    cli = compose_cli()
    if cli is not None:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("COMPOSE_", "DOCKER_"))}
        result = subprocess.run(cli + ["--project-directory", str(REPO), "-f", str(COMPOSE_FILE), "config", "--quiet"],
                                capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
        assert result.returncode == 0, "%s config rejected the file:\n%s" % (" ".join(cli), result.stderr)


# ---------------------------------------------------------------- image and build

def test_services_build_from_the_dockerfile_in_the_repo(compose):
    built = {name: service for name, service in compose["services"].items() if "build" in service}
    assert set(APP_PROCESSES) <= set(built), "these must run the portal image: %s" % (set(APP_PROCESSES) - set(built))
    for name, service in built.items():
        build = service["build"]
        context = REPO / (build if isinstance(build, str) else build.get("context", "."))
        dockerfile = context / ("Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile"))
        assert context.resolve() == REPO, "%s: build context must be the repository root, is %s" % (name, context)
        assert dockerfile.is_file(), "%s: %s does not exist" % (name, dockerfile)
    images = {service.get("image") for service in built.values()}
    assert len(images) == 1 and None not in images, "one image for every process, got %s" % images
    for name, service in compose["services"].items():
        if "build" not in service:
            image = service["image"]
            assert ":" in image and not image.endswith(":latest"), "%s: pin the image's tag (%s)" % (name, image)


def dockerfile_instructions():
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_dockerfile_builds_one_pinned_non_root_image():
    instructions = dockerfile_instructions()
    assert instructions[0].split()[:2] == ["FROM", "python:3.11-slim"], instructions[0]
    for line in instructions:
        if line.upper().startswith(("COPY ", "ADD ")) and "--from" not in line:
            parts = [part for part in shlex.split(line)[1:] if not part.startswith("--")]
            for source in parts[:-1]:
                assert (REPO / source).exists(), "Dockerfile copies %s, which does not exist" % source
    users = [line.split()[1] for line in instructions if line.upper().startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), "the image must run as a non-root user"
    install = " ".join(line for line in instructions if "pip install" in line)
    assert "-c constraints.txt" in install
    projects = ["libs/servicekit"] + sorted(str(path.parent.relative_to(REPO))
                                            for path in REPO.glob("services/*/pyproject.toml"))
    for project in projects:
        assert re.search(r"-e\s+%s(\s|;|$)" % re.escape(project), install), "the image does not install %s" % project


def declared_dependencies():
    names = set()
    for manifest in list(REPO.glob("libs/*/pyproject.toml")) + list(REPO.glob("services/*/pyproject.toml")):
        for requirement in tomllib.loads(manifest.read_text()).get("project", {}).get("dependencies", []):
            names.add(re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-"))
    return names


def test_image_installs_the_programs_the_commands_run(compose):
    """The image has only what the pyproject.toml files declare: each program a command runs must be there."""
    provided_by = {"nameko": "nameko", "gunicorn": "gunicorn", "alembic": "alembic"}
    declared = declared_dependencies()
    for name, service in compose["services"].items():
        if "build" in service and service.get("command"):
            for program in provided_by:
                if commands_named(argv_of(service["command"]), program):
                    assert provided_by[program] in declared, (
                        "service %s runs %s, but no pyproject.toml in libs/ or services/ declares it"
                        % (name, program))


def dockerignore_rules():
    rules = []
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = posixpath.normpath(line.lstrip("!").strip("/"))
        regex = ""
        index = 0
        while index < len(pattern):
            if pattern.startswith("**/", index):
                regex, index = regex + "(?:.*/)?", index + 3
            elif pattern.startswith("**", index):
                regex, index = regex + ".*", index + 2
            elif pattern[index] == "*":
                regex, index = regex + "[^/]*", index + 1
            elif pattern[index] == "?":
                regex, index = regex + "[^/]", index + 1
            else:
                regex, index = regex + re.escape(pattern[index]), index + 1
        rules.append((negated, re.compile("^%s$" % regex)))
    return rules


def ignored_by_docker(path, rules):
    """Docker's rule: the last pattern matching the path or one of its parent folders decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[:count]) for count in range(1, len(parts) + 1)]
    ignored = False
    for negated, regex in rules:
        if any(regex.match(candidate) for candidate in candidates):
            ignored = not negated
    return ignored


def test_dockerignore_keeps_what_containers_run_and_drops_secrets(compose):
    rules = dockerignore_rules()
    needed = {"constraints.txt", "libs/servicekit/pyproject.toml"}
    for service in compose["services"].values():
        if "build" in service and service.get("command"):
            needed |= referenced_paths(argv_of(service["command"]))
    for svc in SERVICES:
        needed |= {"services/%s/config.yaml" % svc, "services/%s/alembic.ini" % svc, "services/%s/migrations" % svc,
                   "services/%s/%s/service.py" % (svc, svc)}
    dropped = sorted(path for path in needed if ignored_by_docker(path, rules))
    assert not dropped, ".dockerignore leaves out what containers need: %s" % dropped
    for private in (".env", ".git", ".venv", "var/identity.db", "services/roster/roster/__pycache__/x.pyc"):
        assert ignored_by_docker(private, rules), ".dockerignore must leave out %s" % private


# ---------------------------------------------------------------- paths, dependencies, order

def test_host_paths_exist(compose):
    declared_volumes = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for source, target, kind in volume_mounts(service):
            if kind == "bind":
                assert (REPO / source).exists(), "service %s mounts %s, which does not exist" % (name, source)
            elif source:
                assert source in declared_volumes, "service %s: volume %s is not declared" % (name, source)
        env_files = service.get("env_file") or []
        for env_file in [env_files] if isinstance(env_files, str) else env_files:
            path = env_file if isinstance(env_file, str) else env_file["path"]
            required = isinstance(env_file, str) or env_file.get("required", True)
            assert not required or (REPO / path).is_file(), "service %s: env_file %s does not exist" % (name, path)
    for section in ("configs", "secrets"):
        for name, item in (compose.get(section) or {}).items():
            if "file" in item:
                assert (REPO / item["file"]).exists(), "%s %s: %s does not exist" % (section, name, item["file"])


def depends_on(service):
    value = service.get("depends_on") or {}
    return {name: "service_started" for name in value} if isinstance(value, list) else \
        {name: (spec or {}).get("condition", "service_started") for name, spec in value.items()}


def test_depends_on_names_defined_services_in_a_possible_order(compose):
    services = compose["services"]
    for name, service in services.items():
        for dependency, condition in depends_on(service).items():
            assert dependency in services, "%s depends on %s, which is not defined" % (name, dependency)
            assert condition in DEPENDS_CONDITIONS, "%s: unknown condition %s" % (name, condition)
            if condition == "service_healthy":
                assert services[dependency].get("healthcheck"), \
                    "%s waits for %s to be healthy, which has no healthcheck" % (name, dependency)
            if condition == "service_completed_successfully":
                assert str(services[dependency].get("restart", "no")) == "no", \
                    "%s waits for %s to finish, which restarts" % (name, dependency)
    state = {}

    def visit(name, path):
        assert state.get(name) != "visiting", "depends_on cycle: %s" % " -> ".join(path + [name])
        if state.get(name) is None:
            state[name] = "visiting"
            for dependency in depends_on(services[name]):
                visit(dependency, path + [name])
            state[name] = "done"

    for name in services:
        visit(name, [])


def test_services_start_after_migrations_queues_and_keys(compose):
    for name in APP_PROCESSES:
        dependencies = depends_on(compose["services"][name])
        assert dependencies.get("rabbitmq") == "service_healthy", name
        assert dependencies.get("keys") == "service_completed_successfully", name
        if name in SERVICES:
            assert dependencies.get("migrate") == "service_completed_successfully", name
            assert dependencies.get("postgres") == "service_healthy", name
    migrate = compose["services"]["migrate"]
    commands = expand(argv_of(migrate["command"]), "migrate")
    for svc, cls in SERVICES.items():
        assert any(c[:1] == ["alembic"] and option(c[1:], "-c") == "services/%s/alembic.ini" % svc
                   and "upgrade" in c for c, _ in commands), "migrate does not upgrade %s" % svc
        assert any(option(c[1:], "--service") == "%s.service:%s" % (svc, cls)
                   and option(c[1:], "--config") == "services/%s/config.yaml" % svc
                   for c, _ in commands), "migrate does not declare %s's consumer queues" % svc


# ---------------------------------------------------------------- databases

def test_each_service_has_its_own_database_and_role(raw, compose):
    postgres_env = environment(compose["services"]["postgres"])
    raw_postgres_env = environment(raw["services"]["postgres"])
    urls = {}
    for svc in SERVICES:
        key = "%s_DATABASE_URL" % svc.upper()
        env = environment(compose["services"][svc])
        others = [name for name in env if name.endswith("_DATABASE_URL") and name != key]
        assert not others, "%s is given other services' databases: %s" % (svc, others)
        assert env.get(key), "%s has no %s" % (svc, key)
        url = urlsplit(env[key])
        assert url.scheme in ("postgresql", "postgresql+psycopg2"), env[key]
        assert (url.hostname, url.path.lstrip("/"), url.username) == ("postgres", svc, svc), \
            "%s must use database %s as role %s on postgres: %s" % (svc, svc, svc, env[key])
        # the password in the URL is the one the init script gives the role
        raw_url = environment(raw["services"][svc])[key]
        password_var = "%s_DB_PASSWORD" % svc.upper()
        assert "${%s" % password_var in raw_url, "%s's URL must take its password from %s" % (svc, password_var)
        assert "${%s" % password_var in str(raw_postgres_env.get(password_var)), \
            "postgres must get %s for the init script" % password_var
        assert url.password == postgres_env[password_var], "%s: URL and role passwords differ" % svc
        urls[svc] = env[key]
    assert len(set(urls.values())) == len(SERVICES), "database URLs must all differ: %s" % urls
    migrate_env = environment(compose["services"]["migrate"])
    for svc, url in urls.items():
        assert migrate_env.get("%s_DATABASE_URL" % svc.upper()) == url, "migrate must migrate %s's own database" % svc


def test_postgres_init_script_creates_a_database_and_role_per_service(compose):
    postgres = compose["services"]["postgres"]
    assert postgres["image"].split(":")[0] == "postgres" and postgres["image"].split(":")[1].startswith("15")
    assert "pg_isready" in " ".join(argv_of(postgres["healthcheck"]["test"]))
    scripts = [source for source, target, kind in volume_mounts(postgres)
               if kind == "bind" and target.startswith("/docker-entrypoint-initdb.d/")]
    assert scripts, "postgres mounts no init script into /docker-entrypoint-initdb.d/"
    text = "\n".join((REPO / source).read_text() for source in scripts)
    assert "CREATE DATABASE" in text and "CREATE ROLE" in text and "_DB_PASSWORD" in text
    for svc in SERVICES:
        assert re.search(r"\b%s\b" % svc, text), "the init script does not create %s" % svc


# ---------------------------------------------------------------- scaling, ports, health

def test_billing_replicas_are_settable_on_their_own(raw):
    billing = raw["services"]["billing"]
    replicas = str((billing.get("deploy") or {}).get("replicas", ""))
    assert "${BILLING_REPLICAS" in replicas, "billing needs deploy.replicas: ${BILLING_REPLICAS:-N}"
    assert int(interpolate_string(replicas, {})) >= 1
    assert interpolate_string(replicas, {"BILLING_REPLICAS": "7"}) == "7"
    for name, service in raw["services"].items():
        if name != "billing":
            assert "BILLING_REPLICAS" not in yaml.safe_dump(service), "%s must not follow BILLING_REPLICAS" % name
    assert "container_name" not in billing and not billing.get("ports"), \
        "replicas of billing would clash on a container name or a host port"


def test_gateway_publishes_8080_with_a_health_check(compose):
    gateway = compose["services"]["gateway"]
    assert ("8080", "8080") in published_ports(gateway), "gateway must publish 8080: %s" % gateway.get("ports")
    assert environment(gateway).get("BIND") == "0.0.0.0:8080"
    healthcheck = gateway.get("healthcheck") or {}
    assert not healthcheck.get("disable") and "/health" in " ".join(argv_of(healthcheck.get("test", []))), \
        "gateway needs a healthcheck on /health"


def test_infrastructure_is_checked_for_health(compose):
    rabbitmq = compose["services"]["rabbitmq"]
    assert rabbitmq["image"] == "rabbitmq:3.13-management"
    assert argv_of(rabbitmq["healthcheck"]["test"])[1:2] == ["rabbitmq-diagnostics"] and \
        "ping" in argv_of(rabbitmq["healthcheck"]["test"])
    plugins = [source for source, target, kind in volume_mounts(rabbitmq) if target == "/etc/rabbitmq/enabled_plugins"]
    assert plugins and "rabbitmq_management" in (REPO / plugins[0]).read_text()


# ---------------------------------------------------------------- commands, modules, configuration

@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_service_command_runs_its_own_service_module(compose, svc):
    argv = argv_of(compose["services"][svc]["command"])
    assert argv[:2] == ["nameko", "run"], argv
    assert option(argv, "--config") == "services/%s/config.yaml" % svc
    # `module:Class`, not the bare module: nameko runs every class in the module that has entrypoints,
    # and an imported base class (servicekit's PortalService) has them but no name: `nameko run` refuses.
    modules = positionals(argv[2:], {"--config", "--broker", "--backdoor-port"})
    assert modules == ["%s.service:%s" % (svc, SERVICES[svc])], modules
    service_file = REPO / "services" / svc / svc / "service.py"
    assert service_file.is_file(), "%s.service: %s does not exist" % (svc, service_file.relative_to(REPO))
    assert re.search(r"^class %s\b" % SERVICES[svc], service_file.read_text(), re.M), \
        "%s does not define %s" % (service_file.relative_to(REPO), SERVICES[svc])
    assert (REPO / "services" / svc / "config.yaml").is_file()


def test_every_container_command_names_existing_files_and_modules(compose):
    problems = []
    for name, service in compose["services"].items():
        if "build" in service:
            assert service.get("command"), "%s: say which process it runs" % name
            problems += command_problems(argv_of(service["command"]), "compose service %s" % name)
    assert not problems, "\n".join(problems)


def test_environment_given_to_a_service_is_read_by_it(compose):
    """A variable Compose sets that the service never reads is a setting that silently does nothing."""
    problems = []
    for svc in SERVICES:
        for key in config_reads(svc, environment(compose["services"][svc])):
            problems.append("services/%s/config.yaml does not read ${%s}" % (svc, key))
    gateway_sources = "\n".join(path.read_text() for path in (REPO / "services/gateway").rglob("*.py")
                                if "tests" not in path.parts)
    for key in environment(compose["services"]["gateway"]):
        if key != "PROMETHEUS_MULTIPROC_DIR" and key not in gateway_sources:  # prometheus_client reads that one
            problems.append("nothing in services/gateway reads %s" % key)
    assert not problems, "\n".join(problems)


def test_token_keys_reach_only_who_needs_them(compose):
    services = compose["services"]
    keys_argv = argv_of(services["keys"]["command"])
    private_path, public_path = option(keys_argv, "--private"), option(keys_argv, "--public")
    private_volume = mounted_at(services["keys"], private_path)
    public_volume = mounted_at(services["keys"], public_path)
    assert private_volume and public_volume and private_volume[0] != public_volume[0], \
        "keys must write the private and the public key into two different volumes"
    for name in APP_PROCESSES:
        env = environment(services[name])
        assert env.get("TOKEN_PUBLIC_KEY_FILE") == public_path, name
        assert mounted_at(services[name], public_path)[0] == public_volume[0], "%s cannot read the public key" % name
        mounts_private = any(source == private_volume[0] for source, _, _ in volume_mounts(services[name]))
        assert mounts_private == (name == "identity"), "only identity may mount the private key (%s)" % name
    assert environment(services["identity"]).get("TOKEN_PRIVATE_KEY_FILE") == private_path


def metrics_port_variable(svc):
    """The environment variable services/<svc>/config.yaml takes METRICS_PORT from."""
    config = REPO / "services" / svc / "config.yaml"
    match = re.search(r"^METRICS_PORT:\s*\$\{(\w+)", config.read_text(), re.M) if config.is_file() else None
    return match.group(1) if match else "METRICS_PORT"


def config_reads(svc, names):
    """The names of `names` that services/<svc>/config.yaml never reads as ${NAME...}."""
    config = REPO / "services" / svc / "config.yaml"
    text = config.read_text() if config.is_file() else ""
    return [name for name in names if "${%s" % name not in text]


def test_prometheus_scrapes_every_service_and_the_gateway(compose):
    prometheus = compose["services"]["prometheus"]
    mounted = [source for source, target, kind in volume_mounts(prometheus)
               if target == "/etc/prometheus/prometheus.yml"]
    assert mounted, "prometheus must mount deploy/prometheus/prometheus.yml"
    assert "--config.file=/etc/prometheus/prometheus.yml" in argv_of(prometheus.get("command", [])) or \
        "command" not in prometheus
    config = yaml.safe_load((REPO / mounted[0]).read_text())
    targets = set()
    for job in config["scrape_configs"]:
        path = job.get("metrics_path", "/metrics")
        for static in job.get("static_configs", []):
            targets |= {(target, path) for target in static["targets"]}
        for dns in job.get("dns_sd_configs", []):
            targets |= {("%s:%s" % (name, dns["port"]), path) for name in dns["names"]}
    for svc in SERVICES:
        service = compose["services"][svc]
        variable = metrics_port_variable(svc)
        port = environment(service).get(variable)
        assert port, "compose does not set %s, where %s serves its metrics" % (variable, svc)
        assert ("%s:%s" % (svc, port), "/metrics") in targets, "Prometheus does not scrape %s on %s" % (svc, port)
        assert ":%s/metrics" % port in " ".join(argv_of(service["healthcheck"]["test"])), \
            "%s's healthcheck does not ask its metrics port %s" % (svc, port)
    assert ("gateway:8080", "/metrics") in targets


# ---------------------------------------------------------------- Kubernetes

def k8s_documents():
    documents = []
    for path in sorted(K8S_DIR.glob("*.y*ml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document is not None:
                documents.append((path, document))
    return documents


def k8s_objects(kind):
    return {doc["metadata"]["name"]: doc for _, doc in k8s_documents() if doc.get("kind") == kind}


def pod_containers(workload):
    spec = workload["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def test_k8s_manifests_parse():
    documents = k8s_documents()
    assert documents, "no manifests in deploy/k8s"
    for path, document in documents:
        assert {"apiVersion", "kind"} <= set(document), "%s: a document without apiVersion/kind" % path.name
        if document["kind"] != "Kustomization":
            assert document.get("metadata", {}).get("name"), "%s: a %s without a name" % (path.name, document["kind"])
    for kustomization in (doc for _, doc in documents if doc["kind"] == "Kustomization"):
        for resource in kustomization.get("resources", []):
            assert (K8S_DIR / resource).exists(), "kustomization names %s, which does not exist" % resource


def test_k8s_runs_every_process_as_a_deployment_and_migrates_in_a_job():
    deployments = k8s_objects("Deployment")
    assert set(APP_PROCESSES) <= set(deployments), "missing Deployments: %s" % (set(APP_PROCESSES) - set(deployments))
    images = set()
    for name, deployment in deployments.items():
        selector = deployment["spec"]["selector"]["matchLabels"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), "%s: selector does not match its pods" % name
        assert deployment["spec"]["template"]["spec"]["securityContext"].get("runAsNonRoot") is True, name
        images |= {container["image"].rsplit(":", 1)[0] for container in pod_containers(deployment)}
    jobs = k8s_objects("Job")
    assert jobs, "deploy/k8s needs the migration Job"
    for job in jobs.values():
        images |= {container["image"].rsplit(":", 1)[0] for container in pod_containers(job)}
        commands = [c for container in pod_containers(job)
                    for c, _ in expand(container.get("command", []) + container.get("args", []), "job")]
        for svc in SERVICES:
            assert any(c[:1] == ["alembic"] and option(c[1:], "-c") == "services/%s/alembic.ini" % svc
                       for c in commands), "the Job does not migrate %s" % svc
    assert len(images) == 1, "one image for every process: %s" % images


def test_k8s_commands_name_existing_files_and_modules():
    problems = []
    for kind in ("Deployment", "Job"):
        for name, workload in k8s_objects(kind).items():
            for container in pod_containers(workload):
                argv = container.get("command", []) + container.get("args", [])
                assert argv, "%s %s: say which process the container runs" % (kind, name)
                problems += command_problems(argv, "k8s %s %s" % (kind, name))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_k8s_service_runs_its_own_module_with_its_own_database(svc):
    deployment = k8s_objects("Deployment")[svc]
    container = pod_containers(deployment)[0]
    argv = container.get("command", []) + container.get("args", [])
    assert argv[:2] == ["nameko", "run"] and "%s.service:%s" % (svc, SERVICES[svc]) in argv and \
        option(argv, "--config") == "services/%s/config.yaml" % svc, argv
    database_vars = {item["name"] for item in container.get("env", []) if item["name"].endswith("_DATABASE_URL")}
    assert database_vars == {"%s_DATABASE_URL" % svc.upper()}, "%s gets %s" % (svc, database_vars)
    secret_keys = {item["valueFrom"]["secretKeyRef"]["key"] for item in container.get("env", [])
                   if item["name"].endswith("_DATABASE_URL")}
    assert secret_keys == {"%s-database-url" % svc}
    config_maps = k8s_objects("ConfigMap")
    names = [item["name"] for item in container.get("env", [])]
    for source in container.get("envFrom", []):
        names += list(config_maps[source["configMapRef"]["name"]]["data"])
    unread = config_reads(svc, names)
    assert not unread, "services/%s/config.yaml does not read %s" % (svc, unread)
    metrics_port = next(int(item["value"]) for item in container["env"] if item["name"] == metrics_port_variable(svc))
    assert {"name": "metrics", "containerPort": metrics_port} in container["ports"]
    annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
    assert annotations.get("prometheus.io/port") == str(metrics_port)
    private = [volume for volume in deployment["spec"]["template"]["spec"].get("volumes", [])
               if any(item["key"] == "token_ed25519.pem" for item in volume.get("secret", {}).get("items", []))]
    assert bool(private) == (svc == "identity"), "only identity may mount the private token key"


def test_k8s_billing_scales_with_its_own_autoscaler():
    billing_ref = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "billing"}
    autoscalers = [hpa for hpa in k8s_objects("HorizontalPodAutoscaler").values()
                   if hpa["spec"]["scaleTargetRef"] == billing_ref]
    assert len(autoscalers) == 1, "billing needs exactly one HorizontalPodAutoscaler"
    hpa = autoscalers[0]
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    billing = k8s_objects("Deployment")["billing"]
    assert "replicas" not in billing["spec"], "the autoscaler owns billing's replica count"
    cpu_metrics = [m for m in hpa["spec"]["metrics"] if m.get("resource", {}).get("name") == "cpu"]
    if cpu_metrics:
        assert all(c.get("resources", {}).get("requests", {}).get("cpu") for c in pod_containers(billing)), \
            "a CPU target needs CPU requests"


def test_k8s_gateway_service_routes_to_gateway_pods():
    service = k8s_objects("Service")["gateway"]
    gateway = k8s_objects("Deployment")["gateway"]
    labels = gateway["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    container_ports = {(p.get("name"), p["containerPort"]) for c in pod_containers(gateway) for p in c.get("ports", [])}
    for port in service["spec"]["ports"]:
        target = port.get("targetPort", port["port"])
        assert any(target in (name, number) for name, number in container_ports), \
            "gateway Service targets %s, which no gateway container exposes" % target
    assert ("http", 8080) in container_ports


def test_every_billing_replica_writes_nacha_files_to_one_shared_writable_place(compose):
    """Auto pay's run (any replica) writes VAR_DIR/ach/<date>-autopay.ach: in compose a named volume shared by
    the replicas, in Kubernetes (read-only root filesystem) a ReadWriteMany claim."""
    source, _target, kind = mounted_at(compose["services"]["billing"], "/app/var/ach/20270226-autopay.ach")
    assert kind == "volume" and source in compose["volumes"]
    deployment = k8s_objects("Deployment")["billing"]
    mounts = {mount["mountPath"]: mount["name"] for mount in pod_containers(deployment)[0]["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in deployment["spec"]["template"]["spec"]["volumes"]}
    claim = volumes[mounts["/app/var/ach"]]["persistentVolumeClaim"]["claimName"]
    assert "ReadWriteMany" in k8s_objects("PersistentVolumeClaim")[claim]["spec"]["accessModes"]
