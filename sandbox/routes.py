"""Every path the sandbox serves, in one table. Change paths here only.

Documented paths carry [DOC] with the spec section; the others are [INFER] guesses from the docs'
navigation menu (name + method only) and are kept here so they are easy to change.
Order matters: fixed paths come before parameterised ones (/contacts/fields before /contacts/{id}).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import handlers as h
from . import writes as w

API = "/api/v1"


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    endpoint: str
    handler: Callable[..., Any]
    is_list: bool = False


ROUTES: list[Route] = [
    Route("GET", "/contacts", "contacts.list", h.contacts_list, True),  # [DOC] §3.2
    Route("GET", "/contacts/fields", "contacts.fields", h.contacts_fields, True),  # [DOC] §3.5
    Route("GET", "/contacts/social-platform/{socialPlatformId}", "contacts.by_social_platform",
          h.contacts_by_social, True),  # [INFER] path ("Filter By SocialPlatformId", GET)
    Route("GET", "/contacts/{id}", "contacts.detail", h.contacts_detail),  # [DOC] §3.4
    Route("POST", "/contacts", "contacts.create", w.contacts_create),  # [INFER] path (menu: Create, POST)
    Route("PATCH", "/contacts/{id}/tags", "contacts.update_tags", w.contacts_tags),  # [DOC] §3.6
    Route("PATCH", "/contacts/{id}", "contacts.update", w.contacts_update),  # [INFER] path (menu: Update, PATCH)
    Route("DELETE", "/contacts/{id}", "contacts.delete", w.contacts_delete),  # [INFER] path (menu: Delete)
    Route("GET", "/contact-groups", "contact_groups.list", h.contact_groups_list, True),  # [INFER] path
    Route("GET", "/tags", "tags.list", h.tags_list, True),  # [INFER] path (menu: Tag › Listing)
    Route("GET", "/channels", "channels.list", h.channels_list, True),  # [INFER] path (menu: Channel › Listing)
    Route("POST", "/channels", "channels.create", w.channels_create),  # [INFER] path (menu: Channel › Create)
    Route("GET", "/tickets", "tickets.list", h.tickets_list, True),  # [DOC] §5.2
    Route("POST", "/tickets", "tickets.create", w.tickets_create),  # [DOC] §5.3
    Route("GET", "/tickets/fields", "tickets.fields", h.tickets_fields, True),  # [INFER] path (by analogy)
    Route("GET", "/tickets/contact/{contactId}", "tickets.by_contact", h.tickets_by_contact, True),  # [INFER] path
    Route("PATCH", "/tickets/{id}", "tickets.update", w.tickets_update),  # [INFER] path (menu: Update, PATCH)
    Route("PUT", "/tickets/{id}/status", "tickets.update_status", w.tickets_status),  # [INFER] path (menu: PUT)
    Route("GET", "/categories", "categories.list", h.categories_list),  # [DOC] §6
    Route("GET", "/cx-logs", "cx_logs.list", h.cx_logs_list, True),  # [DOC] §7
    Route("GET", "/user-presence-status-log", "agent_activities.list", h.agent_activities_list, True),  # [DOC] §9.2
    Route("POST", "/messages/send", "messages.send", w.messages_send),  # [DOC] §8.1
]

ENDPOINTS = sorted({r.endpoint for r in ROUTES})


class Router:
    """Matches (method, path) to a route; exact paths by dict lookup, the rest by regex in table order."""

    def __init__(self, routes: list[Route] = ROUTES, prefix: str = API) -> None:
        self.exact: dict[str, dict[str, Route]] = {}
        self.patterns: list[tuple[re.Pattern[str], Route]] = []
        for r in routes:
            path = prefix + r.pattern
            if "{" in path:
                rx = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
                self.patterns.append((re.compile(rx + "$"), r))
            else:
                self.exact.setdefault(path, {})[r.method] = r

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, path params, path_known). path_known with no route means: wrong method (405)."""
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        by_method = self.exact.get(path)
        if by_method is not None:
            return by_method.get(method), {}, True
        known = False
        for rx, r in self.patterns:
            m = rx.match(path)
            if m:
                if r.method == method:
                    return r, m.groupdict(), True
                known = True
        return None, {}, known
