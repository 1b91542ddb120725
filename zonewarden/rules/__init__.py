"""Segmentation engineering: the intended policy from conduits, firewall rules generated and checked."""
