"""Security regression tests (issue 13): local access, redaction, files and binds."""
