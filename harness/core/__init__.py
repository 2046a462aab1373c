"""The harness's own records, settings and stores: what every layer shares."""
