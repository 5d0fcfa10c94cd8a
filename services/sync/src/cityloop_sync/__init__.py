"""CityLoop sync service — district → city replication and the city-level projection."""
