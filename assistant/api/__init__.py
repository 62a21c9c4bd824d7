"""The local API (`secondme serve`) and the MCP server (`secondme mcp`): other apps asking the user's second me."""
