"""Helpers shared by the grading tests: the message a checker fails with."""

from __future__ import annotations

import pytest


def failure(check, *args) -> str:
    """The message of the AssertionError a checker raises."""
    with pytest.raises(AssertionError) as info:
        check(*args)
    return str(info.value)
