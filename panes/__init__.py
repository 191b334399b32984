"""One module per pane. Panes take data through attributes and update methods
and post intent messages; they never call a service (an import-linter contract
keeps ``console`` out of reach)."""
