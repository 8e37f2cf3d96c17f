"""Who may use ccproxy's local HTTP surfaces: loopback Host, no foreign Origin, the local token.

A web page in the user's browser can send requests to 127.0.0.1 (and, through DNS rebinding,
read the answers); another local user can connect to any loopback port. See docs/security.md.
"""
