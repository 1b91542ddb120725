"""ZoneWarden: an IEC 62443 workbench for OT/ICS security."""

__version__ = "0.1.0"
