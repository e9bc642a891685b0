"""Settings layering (file < environment < flags) and one-line errors that name the bad key."""

from __future__ import annotations

from pathlib import Path

import pytest

from defectops.core.config import Settings, load_settings
from defectops.core.errors import UserError


def write_yaml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return write_yaml(
        tmp_path / "defectops.yaml",
        "chunk_size: 100\n"
        "model: logreg\n"
        "target: from_file\n"
        "gate:\n"
        "  margin: 0.015\n"
        "  min_accuracy: 0.5\n",
    )


def test_defaults_without_any_layer() -> None:
    settings = load_settings(environ={})
    assert settings.chunk_size == 1000
    assert settings.target == "DefectStatus"
    assert settings.model == "gbm"
    assert settings.categorical is None
    assert settings.drop == []
    assert settings.gate.margin == pytest.approx(0.02)
    assert settings.artifacts == Path("artifacts")
    assert settings.reports_dir == Path("artifacts") / "reports"
    assert settings.quarantine_path == Path("artifacts") / "quarantine.csv"


def test_file_then_env_then_flag_for_one_key(config_file: Path) -> None:
    env = {"DEFECTOPS_CHUNK_SIZE": "200"}
    assert load_settings(config_file, environ={}).chunk_size == 100
    assert load_settings(config_file, environ=env).chunk_size == 200
    assert load_settings(config_file, {"chunk_size": 300}, environ=env).chunk_size == 300
    # a flag that was not typed (None) hides nothing
    assert load_settings(config_file, {"chunk_size": None}, environ=env).chunk_size == 200
    assert load_settings(None, {"chunk_size": None}, environ={}).chunk_size == 1000


def test_nested_gate_key_precedence_keeps_sibling_keys(config_file: Path) -> None:
    env = {"DEFECTOPS_GATE__MARGIN": "0.03"}
    from_file = load_settings(config_file, environ={}).gate
    assert (from_file.margin, from_file.min_accuracy) == (0.015, 0.5)

    from_env = load_settings(config_file, environ=env).gate
    assert from_env.margin == pytest.approx(0.03)
    assert from_env.min_accuracy == pytest.approx(0.5)  # the file's sibling key survives

    from_flag = load_settings(config_file, {"gate": {"margin": 0.04, "rule": None}}, environ=env)
    assert from_flag.gate.margin == pytest.approx(0.04)
    assert from_flag.gate.min_accuracy == pytest.approx(0.5)
    assert from_flag.gate.rule == "newer-unless-worse"  # the untyped --gate flag hid nothing


def test_other_keys_fall_through_the_layers(config_file: Path) -> None:
    settings = load_settings(
        config_file, {"chunk_size": 5}, environ={"DEFECTOPS_TARGET": "from_env"}
    )
    assert settings.model == "logreg"  # only in the file
    assert settings.target == "from_env"  # env beats file
    assert settings.chunk_size == 5  # flag beats file


def test_yaml_accepts_hyphenated_keys_at_every_level(tmp_path: Path) -> None:
    path = write_yaml(
        tmp_path / "c.yaml",
        "chunk-size: 250\norder-by: UDI\nholdout-fraction: 0.3\n"
        "gate:\n  min-accuracy: 0.6\nthreshold:\n  cost-ratio: 3\n",
    )
    settings = load_settings(path, environ={})
    assert settings.chunk_size == 250
    assert settings.order_by == "UDI"
    assert settings.holdout_fraction == pytest.approx(0.3)
    assert settings.gate.min_accuracy == pytest.approx(0.6)
    assert settings.threshold.cost_ratio == pytest.approx(3.0)


def test_comma_lists_from_env_flags_and_yaml(tmp_path: Path) -> None:
    env = {"DEFECTOPS_CATEGORICAL": "Type, Product ID", "DEFECTOPS_DROP": "UDI,TWF,,RNF"}
    from_env = load_settings(environ=env)
    assert from_env.categorical == ["Type", "Product ID"]
    assert from_env.drop == ["UDI", "TWF", "RNF"]

    from_flags = load_settings(
        flags={"categorical": "Air temperature [K],shift", "drop": "a"}, environ=env
    )
    assert from_flags.categorical == ["Air temperature [K]", "shift"]
    assert from_flags.drop == ["a"]

    path = write_yaml(tmp_path / "c.yaml", "categorical: [Type, Product ID]\ndrop: UDI, TWF\n")
    from_yaml = load_settings(path, environ={})
    assert from_yaml.categorical == ["Type", "Product ID"]
    assert from_yaml.drop == ["UDI", "TWF"]


def test_env_names_are_case_insensitive_and_unprefixed_vars_ignored() -> None:
    env = {"defectops_chunk_size": "7", "CHUNK_SIZE": "9", "PATH": "/bin"}
    assert load_settings(environ=env).chunk_size == 7


@pytest.mark.parametrize(
    ("yaml_text", "key"),
    [
        ("chunk_sise: 10\n", "chunk_sise"),
        ("gate:\n  min_acc: 0.5\n", "gate.min_acc"),
        ("threshold:\n  costratio: 2\n", "threshold.costratio"),
    ],
)
def test_unknown_key_in_yaml_names_the_key(tmp_path: Path, yaml_text: str, key: str) -> None:
    path = write_yaml(tmp_path / "c.yaml", yaml_text)
    with pytest.raises(UserError, match="unknown key") as info:
        load_settings(path, environ={})
    assert key in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"DEFECTOPS_CHUNKSIZE": "10"}, "DEFECTOPS_CHUNKSIZE"),
        ({"DEFECTOPS_MODLE": "gbm"}, "DEFECTOPS_MODLE"),
        ({"DEFECTOPS_GATE__MIN_ACCURACYY": "0.5"}, "gate.min_accuracyy"),
    ],
)
def test_unknown_env_var_names_the_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(UserError) as info:
        load_settings(environ=environ)
    assert named in str(info.value)
    assert "environment" in str(info.value)


def test_unknown_flag_names_the_key() -> None:
    with pytest.raises(UserError, match="chunksize"):
        load_settings(flags={"chunksize": 3}, environ={})


@pytest.mark.parametrize(
    ("yaml_text", "key", "shown"),
    [
        ("chunk_size: 0\n", "chunk_size", "0"),
        ("model: foo\n", "model", "'foo'"),
        ("holdout_fraction: 1.5\n", "holdout_fraction", "1.5"),
        ("strategy: random\n", "strategy", "'random'"),
        ("gate:\n  min_accuracy: 1.5\n", "gate.min_accuracy", "1.5"),
        ("gate:\n  rule: lenient\n", "gate.rule", "'lenient'"),
        ("gate: 5\n", "gate", "5"),
    ],
)
def test_bad_value_in_yaml_names_key_and_value(
    tmp_path: Path, yaml_text: str, key: str, shown: str
) -> None:
    path = write_yaml(tmp_path / "c.yaml", yaml_text)
    with pytest.raises(UserError) as info:
        load_settings(path, environ={})
    message = str(info.value)
    assert f"{key}:" in message
    assert f"(got {shown})" in message


@pytest.mark.parametrize(
    ("environ", "key"),
    [
        ({"DEFECTOPS_CHUNK_SIZE": "0"}, "chunk_size"),
        ({"DEFECTOPS_CHUNK_SIZE": "many"}, "chunk_size"),
        ({"DEFECTOPS_MODEL": "foo"}, "model"),
        ({"DEFECTOPS_GATE__MIN_ACCURACY": "2"}, "gate.min_accuracy"),
    ],
)
def test_bad_value_in_env_names_the_key(environ: dict[str, str], key: str) -> None:
    with pytest.raises(UserError) as info:
        load_settings(environ=environ)
    assert f"{key}:" in str(info.value)


def test_bad_flag_value_names_the_key() -> None:
    with pytest.raises(UserError, match=r"chunk_size: .*\(got 0\)"):
        load_settings(flags={"chunk_size": 0}, environ={})
    with pytest.raises(UserError, match="model"):
        load_settings(flags={"model": "foo"}, environ={})


def test_a_bad_lower_layer_is_not_hidden_by_a_good_upper_one(tmp_path: Path) -> None:
    # a typo in the file must fail even when a flag sets the key correctly
    path = write_yaml(tmp_path / "c.yaml", "chunk_sise: 10\n")
    with pytest.raises(UserError, match="chunk_sise"):
        load_settings(path, {"chunk_size": 10}, environ={})


def test_unreadable_or_malformed_config_files(tmp_path: Path) -> None:
    missing = tmp_path / "absent.yaml"
    with pytest.raises(UserError, match=r"absent\.yaml"):
        load_settings(missing, environ={})
    broken = write_yaml(tmp_path / "broken.yaml", "categorical: [a, b\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_settings(broken, environ={})
    listing = write_yaml(tmp_path / "list.yaml", "- chunk_size\n- 10\n")
    with pytest.raises(UserError, match="mapping"):
        load_settings(listing, environ={})
    empty = write_yaml(tmp_path / "empty.yaml", "")
    assert load_settings(empty, environ={}).chunk_size == 1000


def test_secret_token_is_not_echoed() -> None:
    settings = load_settings(environ={"DEFECTOPS_ADMIN_TOKEN": "hunter2"})
    assert settings.admin_token is not None
    assert settings.admin_token.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(settings)


def test_settings_ignores_the_real_environment(
    tmp_project: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settings() alone only validates; layering is load_settings' job (environ= is honoured)."""
    monkeypatch.setenv("DEFECTOPS_CHUNK_SIZE", "77")
    assert Settings().chunk_size == 1000
    assert load_settings(environ={}).chunk_size == 1000
    assert load_settings().chunk_size == 77


def test_debug_switch_from_the_cli_docs_is_not_an_unknown_setting() -> None:
    assert load_settings(environ={"DEFECTOPS_DEBUG": "1"}).chunk_size == 1000


def test_service_options_are_not_unknown_settings() -> None:
    """``defectops serve`` reads its settings with ``DEFECTOPS_SERVE_*`` in the environment."""
    environ = {"DEFECTOPS_SERVE_REQUEST_LOG": "/var/log/parts", "DEFECTOPS_CHUNK_SIZE": "5"}
    assert load_settings(environ=environ).chunk_size == 5
    with pytest.raises(UserError, match="DEFECTOPS_SERVE"):
        load_settings(environ={"DEFECTOPS_SERVEX": "1"})
