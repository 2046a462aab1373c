"""The docker runtime: candidate apps in locked-down containers, the offline image
build, database servers in containers, and the agent sandbox (`command:`, Claude Code)
behind an allow-listing egress proxy."""
