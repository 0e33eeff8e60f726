"""Package surface: the lazy exports, and a CLI start that does not import torch."""

from __future__ import annotations

import subprocess
import sys

import swansphere.spatial as spatial


def test_every_export_resolves():
    assert set(spatial.__all__) == {n for names in spatial._EXPORTS.values() for n in names}
    for name in spatial.__all__:
        assert getattr(spatial, name) is not None
    assert set(spatial.__all__) <= set(dir(spatial))


def test_unknown_names_raise_attribute_error():
    try:
        spatial.no_such_function  # noqa: B018
    except AttributeError as error:
        assert "no_such_function" in str(error)
    else:
        raise AssertionError("expected AttributeError")


def test_cli_registration_does_not_import_torch():
    code = ("import sys, swansphere.cli; swansphere.cli.build_parser(); "
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=60)
    assert result.stdout.strip() == "False"
