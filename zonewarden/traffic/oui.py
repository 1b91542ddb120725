"""MAC address vendors from the IEEE registry shipped offline with ``netaddr``."""

from __future__ import annotations

from functools import lru_cache


def mac_vendor(mac: str | None) -> str | None:
    """The organisation registered for the MAC's OUI, or None (unknown, locally administered, bad)."""
    if not mac:
        return None
    digits = mac.replace(":", "").replace("-", "").replace(".", "")
    if len(digits) != 12:
        return None
    try:
        prefix = int(digits[:6], 16)
        int(digits[6:], 16)
    except ValueError:
        return None
    return _organisation(prefix)


@lru_cache(maxsize=65536)
def _organisation(prefix: int) -> str | None:
    """The registry's organisation for a 24-bit OUI: looked up once per OUI (netaddr reads the registry
    file on every lookup; a plant has a few hundred OUIs and may have 100,000s of MACs)."""
    if prefix & 0x020000:  # locally administered: no registry entry means anything
        return None
    try:
        import netaddr

        org = netaddr.OUI(prefix).registration().org
    except Exception:  # netaddr raises NotRegisteredError, ...
        return None
    return str(org).strip().rstrip(",").strip() or None
