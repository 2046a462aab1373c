"""Local stand-ins for the services the harness talks to (model APIs, CLI agents)."""
