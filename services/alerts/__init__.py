"""Alerts and control from a phone, for a quantdesk that runs unattended.

- ``model``, ``config``: what an alert is; ``[alerts]``, its channels and ``[telegram]``;
- ``rules``: which bus events are alerts, and their words;
- ``service``, ``delivery``, ``outbox``, ``channels``: de-duplication, routing, the
  outbox on disk, and each channel's rate-limited, retried delivery through apprise;
- ``reports``, ``telegram``: the phone's answers, the daily summary, and the Bot API
  long poll that takes commands;
- ``wiring``: how the runtime attaches all of it to the services.
"""
