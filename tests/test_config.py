from __future__ import annotations

from pathlib import Path

import pytest

from server.config import load_settings
from server.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "concierge.toml"
    path.write_text(text)
    return path


def test_defaults(tmp_path: Path) -> None:
    s = load_settings(None, environ={})
    assert (s.host, s.port, s.data_dir) == ("127.0.0.1", 8000, Path(".concierge"))
    assert s.base_url == "http://127.0.0.1:8000"


def test_file_then_env_then_flags(tmp_path: Path) -> None:
    path = write(tmp_path, 'port = 9001\nhost = "0.0.0.0"\n[workbench]\nmemory_mb = 300\nisolation = "off"\n')
    s = load_settings(path, environ={})
    assert (s.port, s.host, s.workbench.memory_mb) == (9001, "0.0.0.0", 300)
    env = {"CONCIERGE_PORT": "9002", "CONCIERGE_WORKBENCH__MEMORY_MB": "512"}
    s = load_settings(path, environ=env)
    assert (s.port, s.host, s.workbench.memory_mb, s.workbench.isolation) == (9002, "0.0.0.0", 512, "off")
    s = load_settings(path, flags={"port": 9003, "host": None}, environ=env)
    assert (s.port, s.host) == (9003, "0.0.0.0")


def test_api_key_from_env_stays_a_string_and_secret(tmp_path: Path) -> None:
    s = load_settings(None, environ={"CONCIERGE_API_KEY": "12345"})
    assert s.api_key is not None and s.api_key.get_secret_value() == "12345"
    assert "12345" not in repr(s)


def test_bad_value_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(write(tmp_path, "port = 'eighty'\n"), environ={})
    assert "port" in exc.value.message and "\n" not in exc.value.message


def test_misspelt_key_gets_a_suggestion(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(write(tmp_path, "[workbench]\nisolaton = 'bwrap'\n"), environ={})
    assert "workbench.isolaton" in exc.value.message and "isolation" in exc.value.message


def test_unknown_key_is_never_offered_as_its_own_correction(tmp_path: Path) -> None:
    """`url` is an option of `upstreams.NAME`, not of the top level: suggesting `url` for `url` helps nobody."""
    with pytest.raises(ConfigError) as exc:
        load_settings(write(tmp_path, "url = 'http://127.0.0.1:9000'\n"), environ={})
    assert "unknown option 'url'" in exc.value.message and "did you mean 'url'" not in exc.value.message


def test_environment_variable_that_is_no_setting_is_named_with_the_nearest_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(None, environ={"CONCIERGE_URL": "http://127.0.0.1:9000"})
    assert "environment variable CONCIERGE_URL" in exc.value.message
    assert "did you mean CONCIERGE_BASE_URL?" in exc.value.message
    with pytest.raises(ConfigError, match="did you mean CONCIERGE_ENCRYPTION_KEY"):
        load_settings(None, environ={"CONCIERGE_ENCRYPTON_KEY": "k"})


def test_a_bad_value_from_the_environment_names_its_variable(tmp_path: Path) -> None:
    path = write(tmp_path, "port = 9001\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(path, environ={"CONCIERGE_WORKBENCH__ISOLATON": "bwrap"})
    assert "did you mean 'isolation'" in exc.value.message
    assert "environment variable CONCIERGE_WORKBENCH__ISOLATON" in exc.value.message
    with pytest.raises(ConfigError, match="environment variable CONCIERGE_PORT"):
        load_settings(path, environ={"CONCIERGE_PORT": "eighty"})
    with pytest.raises(ConfigError) as exc:
        load_settings(write(tmp_path, "port = 'eighty'\n"), environ={"CONCIERGE_HOST": "0.0.0.0"})
    assert "environment variable" not in exc.value.message and "concierge.toml" in exc.value.message


def test_variables_other_commands_read_are_not_settings(tmp_path: Path) -> None:
    """`concierge auth-configs create` reads its secret from CONCIERGE_CLIENT_SECRET, the CLI its server from
    CONCIERGE_BASE_URL: set in the shell, neither may stop `concierge serve` or the CLI loading its settings."""
    env = {"CONCIERGE_CLIENT_SECRET": "s3cret", "CONCIERGE_BASE_URL": "http://127.0.0.1:9", "CONCIERGE_PORT": "9005"}
    settings = load_settings(None, environ=env)
    assert settings.port == 9005 and "s3cret" not in repr(settings)


def test_invalid_toml_and_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "port = \n"), environ={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_config_file_from_env(tmp_path: Path) -> None:
    path = write(tmp_path, "port = 7007\n")
    assert load_settings(None, environ={"CONCIERGE_CONFIG": str(path)}).port == 7007


def test_example_config_is_valid_and_documents_every_setting() -> None:
    from server.config import Settings

    example = Path(__file__).resolve().parents[1] / "config.example.toml"
    assert load_settings(example, environ={}) == Settings()
    text = example.read_text()
    sections = [Settings] + [f.annotation for f in Settings.model_fields.values()
                             if isinstance(f.annotation, type) and hasattr(f.annotation, "model_fields")]
    for model in sections:
        for name in model.model_fields:
            assert name in text, f"config.example.toml does not document {name}"


def test_database_url_and_pool_settings(tmp_path: Path) -> None:
    url = "postgresql://concierge:pw@db.internal:5432/concierge"
    settings = load_settings(None, environ={"CONCIERGE_DATABASE_URL": url, "CONCIERGE_DATABASE_POOL__MAX_SIZE": "4"})
    assert settings.store_url == url and settings.database_pool.max_size == 4
    assert "pw" not in repr(settings), "the URL (with its password) is a secret"
    assert load_settings(None, {"data_dir": tmp_path}, environ={}).store_url == f"sqlite:///{tmp_path}/concierge.db"
    with pytest.raises(ConfigError, match="database_url: .*expected postgresql://"):
        load_settings(None, environ={"CONCIERGE_DATABASE_URL": "mysql://db/concierge"})
    with pytest.raises(ConfigError, match="min_size must not exceed max_size"):
        load_settings(None, environ={"CONCIERGE_DATABASE_POOL__MIN_SIZE": "5",
                                     "CONCIERGE_DATABASE_POOL__MAX_SIZE": "2"})


def test_lists_from_the_environment_are_json_and_levels_take_any_case(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(None, environ={"CONCIERGE_ALLOWED_HOSTS": "a.lan,b.lan"})
    assert "environment variable CONCIERGE_ALLOWED_HOSTS" in exc.value.message and "JSON" in exc.value.message
    env = {"CONCIERGE_ALLOWED_HOSTS": '["a.lan", "b.lan"]', "CONCIERGE_LOG_LEVEL": "DEBUG"}
    settings = load_settings(None, environ=env)
    assert settings.allowed_hosts == ["a.lan", "b.lan"] and settings.log_level == "debug"


@pytest.mark.parametrize("url", ["not a url", "ftp://host", "https://", "https://host name"])
def test_a_public_url_that_is_no_base_url_stops_start_up(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError, match="public_url: .*base URL clients reach"):
        load_settings(write(tmp_path, f"public_url = {url!r}\n"), environ={})
    assert load_settings(write(tmp_path, "public_url = 'https://c.example.com/base/'\n"), environ={}).base_url == (
        "https://c.example.com/base")

