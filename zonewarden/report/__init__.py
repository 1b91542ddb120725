"""Reports (HTML, PDF, XLSX, JSON) and evidence packages: views of the assessed workspace."""
