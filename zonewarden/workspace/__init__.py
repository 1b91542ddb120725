"""Workspace files (YAML, CSV, XLSX) to and from the typed plant model.

This is the shell around :mod:`zonewarden.model`: it reads files, keeps track
of where every value came from, and turns problems into located diagnostics.
"""
