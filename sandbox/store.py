"""The sandbox's data: seeded lazy tables, the virtual clock, lookups and scripted mutations."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from . import gen_contacts as gc
from . import gen_records as gr
from .config import SandboxConfig
from .gen_static import CUSTOM_FIELDS, categories, companies, field_type_map, users
from .table import Table
from .util import fmt_ms, from_us, parse_iso, rng

MUTABLE = ("contacts", "tickets", "cx_logs", "tags", "channels")


class Store:
    """All tables of one sandbox. Public methods are safe to call from several threads."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.seed = config.seed
        self.clock_start_us = parse_iso(config.clock_start)
        self.clock_offset_us = 0
        self.lock = threading.RLock()
        self.mutations = 0
        nf = config.order == "newest_first"
        self.display_names = {name: label for name, label, _ in CUSTOM_FIELDS}
        self.field_types = field_type_map()
        self.users = users(self.seed, self.clock_start_us)
        self.companies = companies(self.seed)
        self.categories = categories(self.seed, self.clock_start_us)

        def table(name: str, count: int, make: Any, render: Any) -> Table:
            return Table(name, self.seed, count, partial(make, self), partial(render, self), nf)

        self.tags = table("tag", config.tags, gr.make_tag, gr.render_tag)
        for i, (uid, _, _) in gr.DOC_TAGS.items():
            if i < config.tags:
                self.tags.pin_id(i, uid)
        self.channels = table("channel", config.channels, gr.make_channel, gr.render_channel)
        self.groups = table("contact_group", config.contact_groups, gr.make_group, gr.render_group)
        render = gc.render_seed_shape if config.shape == "seed" else gc.render_webhook_shape
        self.contacts = table("contact", config.contacts, gc.make_contact, render)
        self.contacts.pin_id(0, gc.SEED_CONTACT_ID)
        self.tickets = table("ticket", config.tickets, gr.make_ticket, gr.render_ticket)
        self.cx_logs = table("cx_log", config.cx_logs, gr.make_cxlog, gr.render_cxlog)
        self.activities = table("activity", config.agent_activities, gr.make_activity, gr.render_activity)
        self._created_cx_started: list[int] = []
        self._tag_refs: dict[int, dict[str, Any]] = {}
        self._kw_cache: dict[tuple[int, str], list[int]] = {}
        self._social: dict[str, list[int]] | None = None

    def table(self, resource: str) -> Table:
        if resource not in MUTABLE:
            raise ValueError(f"unknown resource {resource!r}; one of {MUTABLE}")
        return getattr(self, resource)

    # -- clock -------------------------------------------------------------------------------
    @property
    def now_us(self) -> int:
        return self.clock_start_us + self.clock_offset_us

    def now(self) -> datetime:
        return from_us(self.now_us)

    def advance_clock(self, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
        delta = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if delta.total_seconds() < 0:
            raise ValueError("the clock only moves forward")
        with self.lock:
            self.clock_offset_us += delta // timedelta(microseconds=1)
        return self.now()

    # -- cross references --------------------------------------------------------------------
    def tag_refs(self, indices: list[int]) -> list[dict[str, Any]]:
        out = []
        for i in indices:
            ref = self._tag_refs.get(i)
            if ref is None:
                if not self.tags.exists(i):
                    continue
                row = self.tags.core(i)
                ref = {"id": self.tags.id_of(i), "name": row["name"], "position": row["position"],
                       "_c": row["createdAt"], "_u": row["updatedAt"]}
                self._tag_refs[i] = ref
            out.append(ref)
        return out

    def tag_index_by_name(self, name: str) -> int | None:
        for i in self.tags.iter_live():
            if self.tags.core(i)["name"] == name:
                return i
        return None

    def changed(self, resource: str) -> None:
        """Invalidate caches that embed rows of `resource`."""
        if resource in ("contacts", "tags"):
            self.tickets.invalidate()
            self.cx_logs.invalidate()
        if resource == "tags":
            self._tag_refs.clear()
            self.contacts.invalidate()
        self._kw_cache.clear()

    def rename_custom_field(self, system_name: str, display_name: str) -> None:
        """Change a contact custom field's display_name (form fields and contacts' customFields)."""
        with self.lock:
            if system_name not in self.display_names:
                raise KeyError(f"unknown custom field {system_name!r}")
            self.display_names[system_name] = display_name
            self.contacts.invalidate()

    # -- filtered listings -------------------------------------------------------------------
    def contacts_by_keyword(self, keyword: str) -> list[int]:
        """[INFER] case-insensitive substring match on the name (the doc's own example is a substring)."""
        kw = keyword.casefold()
        key = (self.contacts.version, kw)
        hit = self._kw_cache.get(key)
        if hit is None:
            hit = [i for i in self.contacts.iter_live() if kw in self.contacts.core(i)["name"].casefold()]
            if len(self._kw_cache) > 64:
                self._kw_cache.clear()
            self._kw_cache[key] = hit
        return hit

    def contacts_by_social_id(self, social_id: str) -> list[int]:
        if self._social is None:
            self._social = {}
            for i in range(self.contacts.size):
                self._index_social(i)
        return [i for i in self._social.get(social_id, []) if self.contacts.exists(i)]

    def _index_social(self, i: int) -> None:
        if self._social is not None:
            for p in self.contacts.core(i)["platform"]:
                self._social.setdefault(p[2], []).append(i)

    def tickets_by_contact(self, contact_index: int) -> list[int]:
        key = (self.tickets.version, f"contact:{contact_index}")
        hit = self._kw_cache.get(key)
        if hit is None:
            hit = [i for i in self.tickets.iter_live() if self.tickets.core(i)["contact"] == contact_index]
            self._kw_cache[key] = hit
        return hit

    def cxlog_started_s(self, i: int) -> int:
        base = self.cx_logs.base_count
        return gr.cxlog_started_s(self, i) if i < base else self._created_cx_started[i - base]

    def cxlog_range(self, start_s: int, end_s: int) -> tuple[int, int]:
        """Index range [lo, hi) of logs whose startedDate second lies in [start_s, end_s]."""

        def first_at_least(t: int) -> int:
            lo, hi = 0, self.cx_logs.size
            while lo < hi:
                mid = (lo + hi) // 2
                if self.cxlog_started_s(mid) < t:
                    lo = mid + 1
                else:
                    hi = mid
            return lo

        return first_at_least(start_s), first_at_least(end_s + 1)

    # -- scripted changes --------------------------------------------------------------------
    def mutate(self, resource: str = "contacts", update: int = 0, create: int = 0, delete: int = 0) -> dict[str, list[str]]:
        """Update, create and delete rows deterministically (seed + mutation counter)."""
        with self.lock:
            t = self.table(resource)
            self.mutations += 1
            n = self.mutations
            r = rng(self.seed, "mutate", resource, n)
            now = self.now_us
            live = t.live_in(0, t.size)
            k_upd, k_del = min(update, live), min(delete, max(0, live - min(update, live)))
            picks = r.sample(range(live), k_upd + k_del)
            if resource == "cx_logs" and k_upd:  # progress open logs first, oldest first
                open_rows = [i for i in sorted(t.overlay) if t.exists(i) and t.overlay[i]["closed"] is None]
                picks = [t._kth_live_from(0, p) for p in picks]
                upd = (open_rows + [i for i in picks if i not in open_rows])[:k_upd]
                dels = [i for i in picks if i not in upd][:k_del]
            else:
                idx = [t._kth_live_from(0, p) for p in picks]
                upd, dels = idx[:k_upd], idx[k_upd:]
            for j, i in enumerate(upd):
                self._update_row(resource, t, i, n, j, now, r)
            created = [self._create_row(resource, t, now) for _ in range(create)]
            for i in dels:
                t.delete(i)
            self.changed(resource)
            return {"updated": [t.id_of(i) for i in upd], "created": [t.id_of(i) for i in created],
                    "deleted": [t.id_of(i) for i in dels]}

    def _update_row(self, resource: str, t: Table, i: int, n: int, j: int, now: int, r: Any) -> None:
        row = t.editable(i)
        stamp = f"#{n}.{j} at {fmt_ms(now)}"
        if resource == "contacts":
            row["notes"] = f"Updated {stamp}"
            row["address"] = row["address"] or "Updated address, Yangon"
        elif resource == "tickets":
            statuses = ["open", "in progress", "pending", "resolved", "closed"]
            row["status"] = statuses[(statuses.index(row["status"]) + 1) % len(statuses)]
            row["description"] = f"Updated {stamp}"
        elif resource == "cx_logs":
            if row["closed"] is None:
                gr.close_cxlog(self, row, r, at_us=now)
            else:
                row["closed"] = dict(row["closed"], slaStatus="breach" if row["closed"]["slaStatus"] == "meet" else "meet")
                row["cxIntelligenceStatus"] = "processed"
        elif resource == "tags":
            row["name"] = f"{row['name'].split(' v')[0]} v{n}"
        elif resource == "channels":
            row["status"] = "inactive" if row["status"] == "active" else "active"
            row["name"] = f"{row['name'].split(' v')[0]} v{n}"
        row["updatedAt"] = now
        t.touched(i)

    def _create_row(self, resource: str, t: Table, now: int) -> int:
        i = t.size
        if resource == "cx_logs":
            started = max([now // 1_000_000] + self._created_cx_started[-1:])
            row = gr.make_cxlog(self, i, started_s=started)
            self._created_cx_started.append(started)
            row["createdAt"] = row["updatedAt"] = max(now, started * 1_000_000)
        else:
            row = t.make(i)
            row["createdAt"] = row["updatedAt"] = now
            row["deletedAt"] = None
            if resource == "contacts":
                for item in row["emails"] + row["phones"]:
                    item[3] = now
                row["platform"] = [p[:4] + [now, now] for p in row["platform"]]
        t.add(row)
        if resource == "contacts":
            self._index_social(i)
        return i
