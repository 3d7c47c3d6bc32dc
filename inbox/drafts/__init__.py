"""Suggested drafts: engines rank what could answer a conversation's latest customer
message; the best ones are offered to the agent, who edits and sends. Nothing is sent
without an agent, except a canned reply an admin explicitly lets an inbox send on its own
(inbox/drafts/pipeline.py). Engines are listed in DRAFT_ENGINES (dotted paths), like DRF's
policies. See docs/drafts.md."""
