"""The in-daemon MCP server (FastMCP, streamable HTTP), its tools, and the notification buffer."""

import warnings

# fastmcp imports authlib.jose for OAuth providers we do not use; its deprecation notice
# would otherwise greet every `ccproxy start`.
warnings.filterwarnings("ignore", message="authlib.jose module is deprecated")
