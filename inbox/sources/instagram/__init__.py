"""Instagram direct messages (a professional account) as a source (docs/sources/instagram.md)."""
