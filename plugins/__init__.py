"""The built-in plugins.

Each module here is registered through the ``swansphere.plugins`` entry-point group of the
``swansphere`` distribution, exactly like a third-party plugin, and stays import-light: heavy
imports happen inside the factories.
"""
