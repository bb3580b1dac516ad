"""API tokens: parsing the env/file forms, roles, refusing to start open, constant-time lookup."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.api_tokens import (
    TokenConfigError,
    bearer,
    build,
    parse_entries,
    read_file,
)
from pipeline.settings import SettingsError, describe_errors, load_api_tokens, load_settings

READ = "r" * 20
OPS = "o" * 20


def test_entries_with_and_without_names_map_tokens_to_principals() -> None:
    tokens = build(parse_entries(f"finance:read:{READ}, operator:{OPS}\n", "env"))
    reader, operator = tokens.authenticate(READ), tokens.authenticate(OPS)
    assert reader is not None and (reader.name, reader.role) == ("finance", "read")
    assert operator is not None and operator.role == "operator"
    assert operator.name.startswith("operator-")
    assert tokens.authenticate(READ + "x") is None and tokens.authenticate("") is None
    assert reader.may("read") and not reader.may("operator") and operator.may("operator")
    assert READ not in repr(tokens)


@pytest.mark.parametrize(("text", "names"), [
    ("finance:admin:" + READ, "role 'admin'"),
    ("finance:read:short", "shorter than 16"),
    ("a:b:c:d", "name:role:token"),
    ("bad!name:read:" + READ, "name must be"),
])
def test_bad_entries_name_the_line_and_the_problem(text: str, names: str) -> None:
    with pytest.raises(TokenConfigError, match=names) as info:
        parse_entries(f"# tokens\n{text}", "INVOICE_SYNC_API_TOKENS")
    assert "line 2" in str(info.value)


def test_duplicate_names_or_tokens_are_refused() -> None:
    with pytest.raises(TokenConfigError, match="twice"):
        build(parse_entries(f"a:read:{READ},a:operator:{OPS}", "env"))
    with pytest.raises(TokenConfigError, match="twice"):
        build(parse_entries(f"a:read:{READ},b:operator:{READ}", "env"))


def test_yaml_file_and_line_file(tmp_path: Path) -> None:
    doc = tmp_path / "tokens.yaml"
    doc.write_text(f"tokens:\n  - {{name: ops, role: operator, token: {OPS}}}\n")
    assert read_file(doc) == [("ops", "operator", OPS)]
    lines = tmp_path / "tokens"
    lines.write_text(f"# mounted secret\nfinance:read:{READ}\n\n")
    assert read_file(lines) == [("finance", "read", READ)]
    doc.write_text("tokens: {ops: 1}\n")
    with pytest.raises(TokenConfigError, match="'tokens' list"):
        read_file(doc)


def test_bearer_header_parsing() -> None:
    assert bearer(f"Bearer {READ}") == READ and bearer(f"bearer  {READ} ") == READ
    assert bearer("Basic abc") is None and bearer(None) is None and bearer("Bearer ") is None


def test_no_token_configured_refuses_to_start_unless_auth_is_disabled(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="INVOICE_SYNC_API_AUTH=tokens: no API token"):
        load_api_tokens(load_settings())
    assert load_api_tokens(load_settings(api_auth="disabled")) is None
    path = tmp_path / "tokens"
    path.write_text(f"ops:operator:{OPS}\n")
    tokens = load_api_tokens(load_settings(api_tokens=f"finance:read:{READ}",
                                           api_tokens_file=path))
    assert tokens is not None and tokens.names() == [("finance", "read"), ("ops", "operator")]
    with pytest.raises(SettingsError, match=r"INVOICE_SYNC_API_TOKENS_FILE=.*cannot read"):
        load_api_tokens(load_settings(api_tokens_file=tmp_path / "missing"))


def test_a_bad_token_setting_never_echoes_the_value() -> None:
    with pytest.raises(SettingsError) as info:
        load_api_tokens(load_settings(api_tokens=f"finance:read:{READ},x:y"))
    assert READ not in str(info.value) and "INVOICE_SYNC_API_TOKENS line 1" in str(info.value)
    from pydantic import ValidationError

    from pipeline.settings import Settings
    with pytest.raises(ValidationError) as invalid:
        Settings(api_tokens=123456789012345678)  # type: ignore[arg-type]
    assert "123456789012345678" not in describe_errors(invalid.value)
