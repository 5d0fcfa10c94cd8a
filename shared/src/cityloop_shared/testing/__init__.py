"""Contract test suites of the storage ports: written once, subclassed per backend.

A backend's test module subclasses :class:`~.contracts.StorageContract` and says only how to
create a migrated database (its ``database`` fixture); the same assertions run on every
backend.
"""
