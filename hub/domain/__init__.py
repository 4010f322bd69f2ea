"""The hub's domain types: plain records that storage returns and services use, below both."""
