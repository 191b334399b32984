"""Every test in this folder is end to end (the real command, a pty, tmux, a wheel, a
notebook kernel, other processes): each file says ``pytestmark = pytest.mark.e2e``, and
a file that forgets is marked all the same, so ``pytest -m "not e2e"`` is always the
fast lane."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)
