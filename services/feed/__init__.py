"""Live quotes: sources, sessions, the polling gateway, recording and replay."""
