"""Alerts and control from a phone, for a quantdesk that runs unattended.

- ``model``, ``config``: what an alert is; ``[alerts]``, its channels and ``[telegram]``;
- ``rules``: which bus events are alerts, and their words;
- ``service``: in the trading process, the rules' alerts to the courier and its news
  back; ``courier``: the child process that delivers (``router``: de-duplication and
  routing, ``outbox``: alerts on disk, ``delivery``: each channel's rate-limited,
  retried sends, ``channels``: apprise);
- ``reports``, ``telegram``: the phone's answers, the daily summary, and the Bot API
  long poll that takes commands;
- ``wiring``: how the runtime attaches all of it to the services.
"""
