"""An entry point whose module implements no hook at all."""
