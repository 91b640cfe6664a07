"""Outgoing correspondence: dispatch requests, the courier contractor (AWB, tracking, proof of
delivery), the post without an API (daily manifest with S10 numbers, returned confirmation-of-
receipt cards) and the postal contract's follow-up. See docs/postal.md."""
