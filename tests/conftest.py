"""Fixtures shared by the test modules."""

from __future__ import annotations

import os

import pytest

from kst_match.outputs.browser import find_chromium


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = find_chromium()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but no chromium binary was found (.ci/run installs it)")
        pytest.skip("no chromium binary found: apt-get install chromium to run this test")
    return binary
