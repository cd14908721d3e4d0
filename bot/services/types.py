"""Plain data the services take and return, independent of Telegram's classes."""

from __future__ import annotations

from dataclasses import dataclass, field

from storage.models import ChatKind, Role


@dataclass(frozen=True)
class Person:
    """Who sent an update, as Telegram describes them."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None

    @property
    def display_name(self) -> str:
        """First and last name joined."""
        return " ".join(p for p in (self.first_name, self.last_name) if p) or str(self.id)


@dataclass(frozen=True)
class ChatRef:
    """A chat as Telegram describes it."""

    id: int
    type: str
    title: str | None = None

    @property
    def is_group(self) -> bool:
        """True for groups and supergroups."""
        return self.type in ("group", "supergroup")


@dataclass(frozen=True)
class Identity:
    """Who a person is for Linli in one chat: language and roles."""

    user_id: int
    language: str
    community_id: int | None = None
    community_name: str | None = None
    chat_kind: ChatKind | None = None
    roles: frozenset[Role] = field(default_factory=frozenset)
    global_admin: bool = False
    # Whether the group (registered to `community_id`) is active; None outside such a group.
    chat_active: bool | None = None

    @property
    def top_role(self) -> Role | None:
        """The most privileged role held, if any."""
        for role in (Role.ADMIN, Role.STAFF, Role.VOLUNTEER, Role.RESIDENT):
            if role in self.roles:
                return role
        return None

    def has(self, role: Role) -> bool:
        """True when the person holds `role` or a more privileged one."""
        rank = ROLE_RANK[role]
        return self.global_admin or any(ROLE_RANK[r] >= rank for r in self.roles)


ROLE_RANK = {Role.RESIDENT: 1, Role.VOLUNTEER: 2, Role.STAFF: 3, Role.ADMIN: 4}
