"""Loads CityLoop's test harness (real Kafka and PostgreSQL fixtures) for every test package."""

pytest_plugins = ["cityloop_deploy.pytest_plugin"]
