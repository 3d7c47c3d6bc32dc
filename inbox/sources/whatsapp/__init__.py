"""WhatsApp Cloud API as a source (docs/sources/whatsapp.md)."""
