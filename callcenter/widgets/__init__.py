"""Calls from a website: a business's page carries our "Call us" widget (a script tag naming a
widget's public id); the visitor gets a one-call SIP credential in the guest realm
(credentials.py), within the widget's limits (limits.py), with time-limited TURN credentials
(turn.py), and its call enters the widget's queue like a phone call. The admin's rules for a
widget are in settings.py; the HTTP side is callcenter/web/widget.py."""
