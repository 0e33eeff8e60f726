"""Conformance suites that built-in and third-party components pass (docs/testing-plugins.md).

- :mod:`swansphere.testing.streaming`: streaming components (codecs, video conditioners, ...);
- :mod:`swansphere.testing.samplers`: samplers;
- :mod:`swansphere.testing.components`: protocols, config round trips, what a pipeline needs,
  conditioners, rewards and preference optimizers.
"""
