"""The conversation viewer (/ui/ on the proxy listener) and its self-contained HTML export."""
