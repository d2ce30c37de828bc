import yaml

from servicekit.config import load_config


def write(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return str(path)


def test_values_come_from_the_environment_or_their_defaults(tmp_path, monkeypatch):
    path = write(tmp_path, "URL: ${SVC_URL:sqlite:///var/svc.db}\nPORT: ${SVC_PORT:9101}\nKEY: ${SVC_KEY:}\n")
    monkeypatch.delenv("SVC_URL", raising=False)
    monkeypatch.setenv("SVC_PORT", "9200")
    config = load_config(path)
    assert config == {"URL": "sqlite:///var/svc.db", "PORT": 9200, "KEY": None}


def test_overrides_win_over_the_file(tmp_path):
    assert load_config(write(tmp_path, "A: ${NOT_SET_ANYWHERE:1}\n"), A=2) == {"A": 2}


def test_loading_config_leaves_other_yaml_alone(tmp_path):
    load_config(write(tmp_path, "A: ${X:1}\n"))
    # compose files use ${VAR:-default}: a plain safe_load must still see the text
    assert yaml.safe_load("replicas: ${BILLING_REPLICAS:-2}") == {"replicas": "${BILLING_REPLICAS:-2}"}
