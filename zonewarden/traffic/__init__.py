"""Passive discovery from packet captures: reading, bulk header decoding, flows, industrial
protocol dissectors, asset fingerprints and the communication map."""
