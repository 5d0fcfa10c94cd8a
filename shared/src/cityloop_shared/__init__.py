"""CityLoop shared library: the event contract and the plumbing every service uses."""
