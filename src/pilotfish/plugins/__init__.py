"""Built-in plugins: the host's fallbacks, the packaged models, and the small-model plugins."""
