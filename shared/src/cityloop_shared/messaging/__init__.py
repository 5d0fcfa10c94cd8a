"""Kafka plumbing: the broker every service builds, case-event publishing and subscribing."""
