"""Defaults shared by the models and the light views of a config (``cli_view``)."""

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4000
DEFAULT_PERSIST = True
