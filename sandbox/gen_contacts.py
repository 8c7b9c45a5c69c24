"""Seeded contact rows and their wire shapes: the seed-detail shape, the webhook shape (§3.3) and embeds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import vocab
from .gen_static import CUSTOM_FIELDS, SELECT_OPTIONS
from .util import DAY_US, fmt_date, fmt_ms, fmt_us, rng, uuid_from

if TYPE_CHECKING:
    from .store import Store

SEED_CONTACT_ID = "c786bb40-a58e-4d60-afe6-061e2b819811"  # [DOC] seed-contact-detail.txt
PLATFORM_TYPES = ["messenger", "line", "whatsapp", "viber", "telegram", "instagram"]


def _name(r: Any) -> str:
    kind = r.random()
    if kind < 0.3:
        parts = [r.choice(vocab.BURMESE_LATIN) for _ in range(r.choice([2, 2, 3]))]
        prefix = r.choice(["", "", "", "U ", "Daw ", "Ko ", "Ma "])
        return prefix + " ".join(parts)
    if kind < 0.4:
        return "".join(r.choice(vocab.BURMESE_SCRIPT) for _ in range(r.choice([2, 3])))
    if kind < 0.5:
        return f"{r.choice(vocab.THAI_FIRST)} {r.choice(vocab.THAI_LAST)}"
    if kind < 0.65:
        return f"{r.choice(vocab.THAI_LATIN_FIRST)} {r.choice(vocab.THAI_LATIN_LAST)}"
    first, last = r.choice(vocab.LATIN_FIRST), r.choice(vocab.LATIN_LAST)
    if kind < 0.7:
        return first + last  # like "FrankMcCallister"
    if kind < 0.72:
        return f"🌸 {first}"
    return f"{first} {last}"


def _phone(r: Any) -> str:
    return r.choice([
        lambda: f"+95 9 {r.randrange(100000000, 999999999)}",
        lambda: f"+66 8{r.randrange(10000000, 99999999)}",
        lambda: f"09{r.randrange(100000000, 999999999)}",
        lambda: f"1-800-{r.randrange(100, 999)}-{r.randrange(1000, 9999)}",
        lambda: f"+65{r.randrange(80000000, 99999999)}",
        lambda: f"0{r.randrange(6000000000, 6999999999)}",
    ])()


def _social_id(r: Any, typ: str) -> str:
    if typ == "messenger":
        return f"PSID-{r.randrange(10**9, 10**10)}"
    if typ == "line":
        return "U" + "".join(r.choice("0123456789abcdef") for _ in range(32))
    if typ == "whatsapp":
        return str(r.randrange(6590000000, 6599999999))
    return f"{typ[:2]}-{r.randrange(10**11, 10**12)}"


def custom_value(r: Any, system_name: str, typ: str, now_us: int) -> Any:
    """A value for a custom field of the given type (None sometimes)."""
    if r.random() < 0.1:
        return None
    if typ in ("text", "textarea"):
        return r.choice(["another field", "C-" + str(r.randrange(10000, 99999)), "ข้อความ", "မှတ်ချက်",
                         "multi\nline" if typ == "textarea" else "x"])
    if typ == "number":
        return r.choice([r.randrange(0, 5000), round(r.random() * 1000, 2), 0])
    if typ == "date":
        return fmt_date(now_us - r.randrange(30 * 365) * DAY_US)
    if typ == "select":
        return r.choice(SELECT_OPTIONS.get(system_name, ["A", "B"]))
    if typ == "multi_select":
        opts = SELECT_OPTIONS.get(system_name, ["A", "B"])
        return r.sample(opts, r.choice([0, 1, 2, 3]))
    if typ == "checkbox":
        return r.random() < 0.5
    if typ == "email":
        return f"work{r.randrange(1000)}@example.com"
    if typ == "phone":
        return _phone(r)
    return f"https://example.com/{r.randrange(10**6)}"


def make_contact(store: Store, i: int) -> dict[str, Any]:
    """The internal row for seeded contact i (item ids None: derived from (seed, i, j) when rendered)."""
    seed, clock = store.seed, store.clock_start_us
    r = rng(seed, "contact", i)
    n = max(1, store.contacts.base_count)
    span = 729 * DAY_US
    created = clock - 730 * DAY_US + (i * span) // n + r.randrange(max(1, span // n))
    updated = created if r.random() < 0.6 else created + r.randrange(max(1, clock - DAY_US - created))
    deleted = None
    if i and r.random() < 0.03:
        deleted = updated = min(clock - 1_000_000, updated + r.randrange(30 * DAY_US))
    if i == 0:
        return _seed_contact(store, created)
    name = _name(r)
    ascii_name = "".join(ch for ch in name.lower() if ch.isascii() and ch.isalnum())
    n_emails = r.choices([0, 1, 2, 3], [20, 55, 20, 5])[0]
    emails = [[None, f"{ascii_name or 'contact'}{i}{'' if j == 0 else j}@"
               f"{r.choice(['gmail.com', 'klink.cloud', 'yahoo.co.th', 'example.com'])}", j == 0, created]
              for j in range(n_emails)]
    phones = [[None, _phone(r), j == 0, created]
              for j in range(r.choices([0, 1, 2], [25, 60, 15])[0])]
    n_tags = min(r.choices([0, 1, 2, 4], [35, 40, 20, 5])[0], store.tags.base_count)
    tags = sorted(r.sample(range(store.tags.base_count), n_tags)) if n_tags else []
    custom: list[list[Any]] = []
    if r.random() > 0.3:
        for system_name, _, typ in CUSTOM_FIELDS:
            if r.random() < 0.5:
                custom.append([system_name, custom_value(r, system_name, typ, clock)])
    platform = []
    for _ in range(r.choices([0, 1, 2], [40, 50, 10])[0]):
        typ = r.choice(PLATFORM_TYPES)
        platform.append([None, r.randrange(max(1, store.channels.base_count)),
                         _social_id(r, typ), typ, created, updated])
    return {
        "name": name,
        "address": None if r.random() < 0.4 else r.choice(vocab.ADDRESSES),
        "channel": None if r.random() < 0.15 else r.choice(vocab.CHANNELS),
        "notes": None if r.random() < 0.55 else r.choice(vocab.NOTES),
        "socialProfileUrl": None if r.random() < 0.5 else f"https://assets.klink.cloud/avatars/{r.getrandbits(48):012x}.jpg",
        "contactProfile": None if r.random() < 0.6 else f"https://cdn.klink.cloud/assets/profiles/{i}.jpg",
        "contactNumber": None if r.random() < 0.5 else r.randrange(1, 10**6),
        "company": None if r.random() < 0.4 else r.randrange(len(store.companies)),
        "emails": emails, "phones": phones, "tags": tags, "custom": custom, "platform": platform,
        "createdAt": created, "updatedAt": updated, "deletedAt": deleted,
    }


def _seed_contact(store: Store, created: int) -> dict[str, Any]:
    """Row 0 is the contact of seed-contact-detail.txt, verbatim."""
    return {
        "name": "FrankMcCallister", "address": None, "channel": None, "notes": None,
        "socialProfileUrl": "https://assets.protocol.chat/avatars/frank.jpg", "contactProfile": None,
        "contactNumber": None, "company": 0,
        "emails": [[None, "frankmccallister@gmail.com", True, created]],
        "phones": [[None, "1-800-759-3000", True, created]],
        "tags": [0], "custom": [["demo_test", "another field"]], "platform": [],
        "createdAt": created, "updatedAt": created, "deletedAt": None,
    }


def _custom_items(store: Store, row: dict[str, Any]) -> list[dict[str, Any]]:
    names, types = store.display_names, store.field_types
    return [{"system_name": k, "display_name": names.get(k, k), "type": types.get(k, "text"), "value": v}
            for k, v in row["custom"]]


def render_seed_shape(store: Store, i: int, row: dict[str, Any]) -> dict[str, Any]:
    """Contact as in seed-contact-detail.txt (+ ms-Z timestamps unless timestamps=False)."""
    company = store.companies[row["company"]] if row["company"] is not None else None
    out = {
        "id": store.contacts.id_of(i), "name": row["name"], "address": row["address"], "channel": row["channel"],
        "notes": row["notes"], "socialProfileUrl": row["socialProfileUrl"],
        "tags": [{"id": t["id"], "name": t["name"]} for t in store.tag_refs(row["tags"])],
        "company": company,
        "email": [{"email": e[1], "isPrimary": e[2]} for e in row["emails"]],
        "phone": [{"phone": p[1], "isPrimary": p[2]} for p in row["phones"]],
        "customFields": _custom_items(store, row),
    }
    if store.config.timestamps:
        out["createdAt"] = fmt_ms(row["createdAt"])
        out["updatedAt"] = fmt_ms(row["updatedAt"])
        out["deletedAt"] = None if row["deletedAt"] is None else fmt_ms(row["deletedAt"])
    return out


def render_webhook_shape(store: Store, i: int, row: dict[str, Any], timestamps: bool | None = None) -> dict[str, Any]:
    """Contact exactly as the webhook contact.create payload (§3.3), µs-Z timestamps."""
    company = store.companies[row["company"]] if row["company"] is not None else None

    def item(key: str, j: int, e: list[Any]) -> dict[str, Any]:
        return {"id": e[0] or uuid_from(store.seed, key, i, j), key: e[1], "isPrimary": e[2], "createdAt": fmt_us(e[3]), "updatedAt": fmt_us(e[3]),
                "deletedAt": None}

    out = {
        "id": store.contacts.id_of(i), "name": row["name"], "address": row["address"], "channel": row["channel"],
        "company": company["name"] if company else None,  # [DOC] table: company "String/null company name"
        "companyId": company["id"] if company else None,
        "contactEmails": [item("email", j, e) for j, e in enumerate(row["emails"])],
        "contactPhones": [item("phone", j, p) for j, p in enumerate(row["phones"])],
        "contactNumber": row["contactNumber"],  # [DOC] Integer/null here (a phone string in cx-log embeds)
        "contactProfile": row["contactProfile"], "socialProfileUrl": row["socialProfileUrl"], "notes": row["notes"],
        "customFields": _custom_items(store, row),
        "tags": [{"id": t["id"], "name": t["name"], "position": t["position"], "createdAt": fmt_us(t["_c"]),
                  "updatedAt": fmt_us(t["_u"]), "deletedAt": None} for t in store.tag_refs(row["tags"])],
        "platformContacts": [_platform(store, i, j, p, fmt_us) for j, p in enumerate(row["platform"])],
    }
    if store.config.timestamps if timestamps is None else timestamps:
        out["createdAt"] = fmt_us(row["createdAt"])
        out["updatedAt"] = fmt_us(row["updatedAt"])
        out["deletedAt"] = None if row["deletedAt"] is None else fmt_us(row["deletedAt"])
    return out


def _platform(store: Store, i: int, j: int, p: list[Any], fmt: Any) -> dict[str, Any]:
    return {"id": p[0] or uuid_from(store.seed, "platform", i, j), "createdAt": fmt(p[4]), "updatedAt": fmt(p[5]), "deletedAt": None,
            "channelId": store.channels.id_of(p[1]), "socialPlatformId": p[2], "type": p[3],
            "botpress_user_metadata": None}


def render_cxlog_embed(store: Store, i: int, row: dict[str, Any]) -> dict[str, Any]:
    """Contact as embedded in a cx-log (§7.2): ms timestamps, contactNumber as a phone string."""
    company = store.companies[row["company"]] if row["company"] is not None else None
    return {
        "id": store.contacts.id_of(i), "createdAt": fmt_ms(row["createdAt"]), "updatedAt": fmt_ms(row["updatedAt"]),
        "deletedAt": None if row["deletedAt"] is None else fmt_ms(row["deletedAt"]),
        "name": row["name"], "address": row["address"], "channel": row["channel"], "notes": row["notes"],
        "contactNumber": row["phones"][0][1] if row["phones"] else None,
        "companyId": company["id"] if company else None, "contactProfile": row["contactProfile"],
        "socialProfileUrl": row["socialProfileUrl"],
        "tags": [{"id": t["id"], "name": t["name"]} for t in store.tag_refs(row["tags"])],
        "platformContacts": [_platform(store, i, j, p, fmt_ms) for j, p in enumerate(row["platform"])],
    }
