"""The Textual console: CLI entry, App, wiring, the bus→UI bridge, config and styles."""
