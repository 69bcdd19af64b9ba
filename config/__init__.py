"""Settings of the hub: read from the environment, with the defaults documented in `settings.py`."""
