"""Where candidates run: the `Backend` registry and runtime protocol, database servers and
the agent sandbox's settings; the local runtime in `local/`, the docker runtime in
`docker/`."""
