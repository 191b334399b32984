"""The README stays true: every key and every setting is documented, the commands match CI."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from console.config import SECTIONS
from panes.keys import KEYS
from services.alerts.config import AlertsConfig

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_every_key_binding_is_a_row_of_the_readme_keys_table() -> None:
    """Each binding's id stands, in backticks, on a row of the keys table that also
    shows each of its keys in backticks (a common word elsewhere does not count)."""
    rows = [line for line in README.splitlines() if line.startswith("| ")]
    missing = []
    for k in KEYS:
        keys = [f"`{t.replace('question_mark', '?')}`" for t in k.key.split(",")]
        if not any(f"`{k.id}`" in row and all(key in row for key in keys) for row in rows):
            missing.append(f"{k.id} ({k.key})")
    assert missing == []


def test_every_setting_is_in_the_configuration_reference() -> None:
    sections = {**SECTIONS, "alerts": AlertsConfig}
    missing = [
        f"[{section}] {f.name}"
        for section, cls in sections.items()
        for f in fields(cls)
        if f"`[{section}] {f.name}`" not in README
    ]
    assert missing == []


def test_the_readme_test_command_is_what_ci_runs() -> None:
    assert "bash .ci/run" in README
    assert (REPO / ".ci" / "run").stat().st_mode & 0o111
    assert "pytest" in (REPO / ".ci" / "run").read_text(encoding="utf-8")
