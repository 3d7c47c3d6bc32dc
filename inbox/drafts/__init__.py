"""Suggested drafts: engines rank what could answer a conversation's latest customer
message; the best ones are offered to the agent, who edits and sends (nothing is ever sent
by itself). Engines are listed in DRAFT_ENGINES (dotted paths), like DRF's policies."""
