"""The local runtime: candidate apps as bubblewrap-confined subprocesses, the runtime
venv, and throwaway PostgreSQL/MariaDB servers started from the host's binaries."""
