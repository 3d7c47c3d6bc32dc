"""Telegram bots as a source (docs/sources/telegram.md): updates arrive by webhook with
the secret token Telegram echoes in `X-Telegram-Bot-Api-Secret-Token`."""
