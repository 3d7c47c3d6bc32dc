"""The generic API source: an integration posts its customers' messages to
`/sources/api/<inbox public id>/messages` (views.py) and receives agents' replies at the
inbox's callback URL, signed (outbound.py, signing.py). See docs/sources/api.md."""
