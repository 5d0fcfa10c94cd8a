"""CityLoop local stack: Apache Kafka and PostgreSQL started from the project."""
