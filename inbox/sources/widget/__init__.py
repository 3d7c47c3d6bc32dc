"""The website chat widget: a `widget` inbox gives the admin a snippet for their website;
visitors chat live through the HTTP API (views.py) and their own websocket
(consumer.py, `/ws/widget/`). Setup and reference: docs/sources/widget.md."""
