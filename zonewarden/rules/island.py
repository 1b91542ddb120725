"""Island mode (IEC 62443-3-3 SR 5.2 RE 2): a boundary device cut off from everything but life safety.

When a zone must be isolated (an incident, a compromised neighbour), its boundary devices
switch to a ruleset that denies every flow except those the user marked
``life_safety: true``, e.g. the SIS status the control room needs to see a chlorine leak.
The island variant of a device is its normal ruleset with only those rules: same
addresses, ports, stateful handling and logged final deny.
"""

from __future__ import annotations

from zonewarden.rules.policy import Device, PolicyRule


def island_rules(device: Device) -> tuple[PolicyRule, ...]:
    """The rules a device keeps in island mode: its life-safety flows only."""
    return tuple(r for r in device.rules if r.life_safety)
