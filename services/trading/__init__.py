"""The order path: checks, risk rules and monitor, trading state, review queue, the live
strategy runner, execution monitoring, and the order service that sends."""
