"""Which commands each role sees, in /help and in Telegram's command menu."""

from __future__ import annotations

from handlers.permissions import Role

# Vietnamese command first; English aliases are accepted too (see ALIASES).
COMMANDS: dict[Role, tuple[str, ...]] = {
    Role.ADMIN: (
        "kybaocao",
        "tinhhinh",
        "duyet",
        "nhac",
        "moi",
        "donvi",
        "thuhoi",
        "baocao",
        "sukien",
        "thongbao",
        "huy",
        "toi",
        "ngonngu",
        "help",
    ),
    Role.CONTACT: ("baocao", "sukien", "huy", "toi", "ngonngu", "help"),
    Role.STRANGER: ("toi", "ngonngu", "help"),
}
GROUP_COMMANDS: tuple[str, ...] = ("baocao", "nhom", "help")

ALIASES: dict[str, tuple[str, ...]] = {
    "moi": ("moi", "invite"),
    "donvi": ("donvi", "units"),
    "thuhoi": ("thuhoi", "revoke"),
    "toi": ("toi", "whoami"),
    "ngonngu": ("ngonngu", "language"),
    "help": ("help", "trogiup"),
    "baocao": ("baocao", "report"),
    "huy": ("huy", "cancel"),
    "kybaocao": ("kybaocao", "periods"),
    "tinhhinh": ("tinhhinh", "status"),
    "duyet": ("duyet", "review"),
    "nhac": ("nhac", "remind"),
    "nhom": ("nhom", "group"),
    "sukien": ("sukien", "events"),
    "thongbao": ("thongbao", "announce"),
}


def description_key(command: str) -> str:
    """The catalogue key describing a command."""
    return f"cmd.{command}"
