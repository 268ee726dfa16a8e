"""Other MCP servers as toolkits: their tools in the catalog, calls through pooled client sessions."""
