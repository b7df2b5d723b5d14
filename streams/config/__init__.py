"""Settings: typed, parsed and validated once at start."""
