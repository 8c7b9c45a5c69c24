"""Row shaping: both contact shapes, timestamps, custom fields, category trees."""

import datetime as dt
import json
import pickle
import tracemalloc
from pathlib import Path

import orjson

from sources.klink.columnar import ArrowBatch
from sources.klink.records import (
    HeldJson,
    coerce_custom_value,
    flatten_categories,
    hashed_json,
    normalize_contact,
    normalize_ticket,
    parse_timestamp,
    record_hash,
)

# A copy of shared/seed-contact-detail.txt (the founding document), so a clone runs anywhere.
SEED = Path(__file__).resolve().parents[1] / "fixtures" / "seed-contact-detail.txt"
UTC = dt.timezone.utc


def seed_contact() -> dict:
    text = SEED.read_text()
    start = text.index("Response Response Example") + len("Response Response Example")
    body = text[start:text.index("Modified at")]
    return json.loads(body)["data"]


def test_every_documented_timestamp_format_parses_to_utc():
    assert parse_timestamp("2026-01-08T04:42:59.028Z") == dt.datetime(2026, 1, 8, 4, 42, 59, 28000, UTC)
    assert parse_timestamp("2026-01-09T03:42:38.000000Z") == dt.datetime(2026, 1, 9, 3, 42, 38, tzinfo=UTC)
    assert parse_timestamp("2026-01-08T16:34:34.542193005Z") == dt.datetime(2026, 1, 8, 16, 34, 34, 542193, UTC)
    assert parse_timestamp("2026-03-30 08:30:00.000+00") == dt.datetime(2026, 3, 30, 8, 30, tzinfo=UTC)
    assert parse_timestamp("2026-03-30 09:15:20+00") == dt.datetime(2026, 3, 30, 9, 15, 20, tzinfo=UTC)
    assert parse_timestamp(None) is None
    assert parse_timestamp("not a date") == "not a date"


def test_seed_contact_shape_becomes_emails_phones_and_custom_columns():
    row = normalize_contact(seed_contact(), {"demo_test": "text"})
    assert row["emails"] == [
        {"email": "frankmccallister@gmail.com", "isPrimary": True, "contact_id": "c786bb40-a58e-4d60-afe6-061e2b819811"}
    ]
    assert row["phones"][0]["phone"] == "1-800-759-3000"
    assert "email" not in row and "phone" not in row
    assert row["custom"] == {"demo_test": "another field"}
    assert row["custom_fields"][0]["system_name"] == "demo_test"
    assert row["company"]["name"] == "K-Link"
    assert row["tags"][0]["contact_id"] == row["id"]


def test_webhook_contact_shape_lands_in_the_same_keys():
    record = {
        "id": "a0", "name": "John", "company": "ACME", "companyId": None, "contactNumber": 12345,
        "contactEmails": [{"id": "e1", "email": "j@k.io", "isPrimary": True, "createdAt": "2026-01-09T03:42:38.000000Z"}],
        "contactPhones": [], "customFields": [], "tags": [], "platformContacts": [],
        "createdAt": "2026-01-09T03:42:38.000000Z", "updatedAt": "2026-01-09T03:42:38.000000Z", "deletedAt": None,
    }
    row = normalize_contact(record, {})
    assert row["emails"][0]["email"] == "j@k.io"
    batch = ArrowBatch("contacts", {})
    batch.add(row, "1")
    tables = batch.tables()  # the builder parses the documented timestamp keys at any depth
    assert tables["contacts__emails"].to_pylist()[0]["created_at"] == dt.datetime(2026, 1, 9, 3, 42, 38, tzinfo=UTC)
    assert tables["contacts"].to_pylist()[0]["created_at"].tzinfo is not None
    assert row["phones"] == []
    assert row["company"] == {"name": "ACME"}
    assert row["contactNumber"] == "12345"


def test_custom_values_are_coerced_by_form_field_type():
    assert coerce_custom_value("12.5", "number") == 12.5
    assert coerce_custom_value("abc", "number") is None
    assert coerce_custom_value("2025-10-23", "date") == dt.date(2025, 10, 23)
    assert coerce_custom_value("true", "checkbox") is True
    assert coerce_custom_value("a", "multi_select") == ["a"]
    assert coerce_custom_value(7, "text") == "7"
    assert coerce_custom_value("", "text") is None


def test_ticket_custom_fields_object_becomes_typed_columns():
    row = normalize_ticket(
        {"id": "t1", "customFields": {"cf_trackingid": "Id-1001", "cf_date": "2025-10-23"}, "tags": [{"id": "x", "name": "n"}]},
        {"cf_date": "date"},
    )
    assert row["custom"] == {"cf_trackingid": "Id-1001", "cf_date": dt.date(2025, 10, 23)}
    assert row["tags"] == [{"id": "x", "name": "n", "ticket_id": "t1"}]


def test_category_tree_of_any_depth_flattens_with_parents_and_levels():
    tree = [{"id": "a", "parentId": None, "level": 1, "childCategoryList": [
        {"id": "b", "parentId": "a", "level": 2, "childCategoryList": [
            {"id": "c", "level": 3, "childCategoryList": [{"id": "d", "childCategoryList": []}]}]}]},
        {"id": "e", "childCategoryList": []}]
    flat = list(flatten_categories(tree))
    assert [(r["id"], r["parentId"], r["level"]) for r in flat] == [
        ("a", None, 1), ("b", "a", 2), ("c", "b", 3), ("d", "c", 4), ("e", None, 1)]
    assert all("childCategoryList" not in r for r in flat)


def test_record_hash_ignores_key_order_and_sees_any_change():
    assert record_hash({"a": 1, "b": [1, 2]}) == record_hash({"b": [1, 2], "a": 1})
    assert record_hash({"a": 1, "b": [1, 2]}) != record_hash({"a": 1, "b": [2, 1]})


def test_held_json_gives_back_each_record_with_its_hash_in_order():
    held = HeldJson()
    assert len(held) == 0 and list(held.records()) == []
    records = [{"id": "a", "name": "Ann"}, {"id": 2, "tags": [{"id": "t"}]}, {"id": "c", "note": 'quote " and ,'}]
    for record in records:
        held.add(*hashed_json(record))
    assert len(held) == 3
    again = pickle.loads(pickle.dumps(held))  # how a batch travels to the helper process
    assert list(again.records()) == [(record_hash(r), r) for r in records]
    assert list(again.records()) == list(held.records())  # reading leaves the batch as it was
    held.add(*hashed_json({"id": "d"}))
    assert [r["id"] for _, r in held.records()] == ["a", 2, "c", "d"]


def test_held_json_keeps_about_the_json_size_not_orjsons_allocation():
    record = {"id": "x", "body": "y" * 1000}  # ~1 KB of JSON; orjson's own result keeps ~8 KB allocated
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        held = HeldJson()
        for i in range(1000):
            held.add(*hashed_json({**record, "id": i}))
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(held) == 1000
    assert used < 2 * 1000 * len(orjson.dumps(record)), f"{used} bytes held for 1,000 records of ~1 KB"
