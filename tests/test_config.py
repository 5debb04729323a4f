"""Configuration loading and validation."""

from __future__ import annotations

import unicodedata

import pytest

from bot.config import TOKEN_ENV, load_config
from bot.errors import ConfigError, MissingTokenError
from tests.factories import EXAMPLE_CONFIG, TOKEN, example_raw, write_config


def test_example_config_describes_the_seed_bloc() -> None:
    config = load_config(EXAMPLE_CONFIG, env={})
    bloc = config.bloc
    assert bloc.name == "Khối thi đua các đơn vị thuộc lĩnh vực Kỹ thuật"
    assert bloc.year == 2023 and bloc.timezone == "Asia/Ho_Chi_Minh"
    assert len(bloc.units) == 15
    by_dept = {d.code: sum(u.department == d.code for u in bloc.units) for d in bloc.departments}
    assert sorted(by_dept.values()) == [1, 7, 7]
    names = {u.code: u.name for u in bloc.units}
    assert names[bloc.leader] == "Trạm Kiểm tra tải trọng xe Quảng Ninh"
    assert names[bloc.deputy] == (
        "Trung tâm Kỹ thuật tài nguyên môi trường - Sở Tài nguyên và Môi trường"
    )
    # Every name not in the source article is marked as an example.
    for code, name in names.items():
        if code not in (bloc.leader, bloc.deputy):
            assert name.endswith("(ví dụ)"), name
    assert config.telegram.base_url == "https://api.telegram.org"
    assert config.database.url.startswith("sqlite+aiosqlite:///")
    assert config.database.url.endswith("/data/thidua.db")


def test_text_is_nfc(tmp_path) -> None:
    raw = example_raw()
    decomposed = unicodedata.normalize("NFD", "Trạm Kiểm tra")
    raw["bloc"]["units"][0]["name"] = decomposed
    config = load_config(write_config(tmp_path / "c.toml", raw), env={})
    assert config.bloc.units[0].name == unicodedata.normalize("NFC", decomposed)


def test_env_token_overrides_file() -> None:
    config = load_config(EXAMPLE_CONFIG, env={TOKEN_ENV: TOKEN})
    assert config.require_token() == TOKEN


def test_missing_token_is_its_own_error() -> None:
    with pytest.raises(MissingTokenError):
        load_config(EXAMPLE_CONFIG, env={}).require_token()


def test_malformed_token_names_the_key(tmp_path) -> None:
    raw = example_raw()
    raw["telegram"]["token"] = "not-a-token"
    config = load_config(write_config(tmp_path / "c.toml", raw), env={})
    with pytest.raises(ConfigError, match=r"telegram\.token"):
        config.require_token()


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda r: r["telegram"].update(tokn="x"), r"telegram\.tokn: unknown key"),
        (lambda r: r["bloc"].update(year="năm nay"), r"bloc\.year"),
        (lambda r: r["bloc"].update(timezone="Mars/Olympus"), r"unknown time zone"),
        (lambda r: r["bloc"].update(leader="NOPE"), r"leader 'NOPE' is not one of the unit codes"),
        (lambda r: r["bloc"]["units"][1].update(department="XX"), r"names department 'XX'"),
        (lambda r: r["bloc"]["units"][1].update(code="GT-TKTTX"), r"appears twice"),
        (lambda r: r["database"].update(url="sqlite:///x.db"), r"sqlite\+aiosqlite"),
        (lambda r: r["telegram"].update(base_url="api.telegram.org"), r"http"),
        (lambda r: r["telegram"].update(mode="webhook"), r"telegram\.webhook"),
        (lambda r: r["bloc"].pop("name"), r"bloc\.name: required but missing"),
        (lambda r: r["retention"].update(inbox_days=0), r"retention\.inbox_days"),
    ],
)
def test_bad_values_are_reported_by_name(tmp_path, mutate, expected) -> None:
    raw = example_raw()
    mutate(raw)
    with pytest.raises(ConfigError, match=expected):
        load_config(write_config(tmp_path / "c.toml", raw), env={})


def test_unreadable_files(tmp_path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml", env={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[bloc\nname=", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken, env={})


def test_a_bad_secret_is_never_echoed(tmp_path) -> None:
    """A malformed webhook secret_token or database URL names the key, never the secret."""
    secret = "has spaces and a $ sign, 0123456789"
    raw = example_raw()
    raw["telegram"]["mode"] = "webhook"
    raw["telegram"]["webhook"] = {"url": "https://bot.example.vn/hook", "secret_token": secret}
    raw["database"]["url"] = "postgresql://thidua:Mat-khau-9876@db.example.vn/thidua"
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path / "c.toml", raw), env={})
    message = str(caught.value)
    assert "telegram.webhook.secret_token" in message and "database.url" in message
    assert secret not in message and "has spaces" not in message
    assert "Mat-khau-9876" not in message and "thidua:***@db.example.vn" in message
