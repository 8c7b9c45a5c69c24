"""naming: the copy of dlt's snake_case convention gives dlt's names for every key we can meet."""

from __future__ import annotations

from typing import Any, Iterator, Set

import pytest
from dlt.common.normalizers.naming.snake_case import NamingConvention

from sources.klink.naming import EMPTY_NAME, column_name, snake_case

from .helpers import api_list

AWKWARD = [
    "contactEmails", "isPrimary", "deletedaAt", "x-client Timezone", "HTTPResponseCode", "ABCdef", "aB",
    "userID2FA", "2fa", "123", "_id", "__v", "a__b", "trailing_", "trailing__", "_", "x+y*z@w|v", "a-b-c",
    "  padded  ", "名前", "émail", "cf_über_Größe", "a.b.c", "a/b", "$ref", "camelCase_With_Mixed",
    "ALLCAPS", "snake_case_already", "Tab\tKey", "new\nline", "1stPlace", "a1B2c3D", "x" * 300,
]


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from _keys(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _keys(inner)


def _assert_dlt_names(keys: Set[str]) -> None:
    dlt_naming = NamingConvention()
    differ = {k: (snake_case(k), dlt_naming.normalize_identifier(k)) for k in keys
              if snake_case(k) != dlt_naming.normalize_identifier(k)}
    assert not differ


def test_awkward_keys_get_dlt_names() -> None:
    _assert_dlt_names(set(AWKWARD))


def test_every_key_the_sandbox_sends_gets_dlt_names(sandbox: Any) -> None:
    keys: Set[str] = set()
    for resource in ("contacts", "tickets", "tags", "channels", "contact_fields", "ticket_fields",
                     "contact_groups"):
        keys.update(_keys(api_list(sandbox, resource)))
    keys.update(_keys(api_list(sandbox, "/api/v1/cx-logs",
                               params={"selectedDate": "2000/01/01 00:00:00-2100/01/01 00:00:00"},
                               headers={"x-client-timezone": "UTC"})))
    assert len(keys) > 60  # the lists were read: custom fields, platform contacts, nested objects
    _assert_dlt_names(keys)


@pytest.mark.parametrize("key", ["", " ", "\t"])
def test_a_blank_key_is_named_empty(key: str) -> None:
    assert column_name(key) == EMPTY_NAME
