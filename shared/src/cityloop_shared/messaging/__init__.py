"""Kafka plumbing: the broker every service builds, case topics and record headers."""
