"""Facebook Messenger (a Facebook Page) as a source (docs/sources/messenger.md)."""
