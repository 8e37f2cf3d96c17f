"""Upstream transports other than mitmproxy's own: curl-cffi impersonation, trusted CA bundles."""
