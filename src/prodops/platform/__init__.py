"""The shared kernel: database, identity, audit, events, jobs, notifications, registries and the web shell. Imports no domain."""
