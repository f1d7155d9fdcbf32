"""Language models that write the avatar's replies, streamed token by token."""
