"""SMS and MMS through Twilio as a source (docs/sources/sms.md).

- `views`: the webhooks Twilio calls (incoming messages, status callbacks), verified with
  `X-Twilio-Signature` before anything is stored, and the signed, expiring URL from which
  Twilio fetches the files of our outgoing MMS.
- `inbound`: stored deliveries into messages, opt-outs and delivery statuses (worker).
- `outbound`: agents' replies through Twilio's Messages API, retried with backoff.
- `twilio`: what the three share: the inbox's account, the signature, Twilio's errors.
- `setup`: what the setup page asks for, and "test connection".
"""
