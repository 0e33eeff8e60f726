"""Plugins with the mistakes that the registry must report, each costing only itself."""
