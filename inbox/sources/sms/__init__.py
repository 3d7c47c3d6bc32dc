"""SMS and MMS through Twilio as a source (docs/sources/sms.md)."""
