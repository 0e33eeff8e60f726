"""Its entry point is named "example", like the example plugin's: it is never imported."""

raise AssertionError("a plugin whose name is taken must not be imported")
