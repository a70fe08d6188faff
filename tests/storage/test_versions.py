"""format_version: a newer or malformed version is refused with the fix."""

from __future__ import annotations

import pytest

from textcl.storage import FormatVersionError, check_format_version


def test_known_versions_pass():
    assert check_format_version(1, 2, "cfg.json") == 1
    assert check_format_version(2, 2, "cfg.json") == 2


@pytest.mark.parametrize("found, match", [(3, "upgrade textcl"), (None, "not a positive integer"),
                                          ("1", "not a positive integer"), (True, "not a positive integer"),
                                          (0, "not a positive integer")])
def test_bad_versions_are_refused(found, match):
    with pytest.raises(FormatVersionError, match=match) as err:
        check_format_version(found, 2, "m/textcl_config.json")
    assert "m/textcl_config.json" in str(err.value)
