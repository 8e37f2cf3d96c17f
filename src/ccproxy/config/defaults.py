"""Defaults that light readers share with the models (``cli_view`` reads them without pydantic)."""

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4000
DEFAULT_PERSIST = True
