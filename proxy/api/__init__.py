"""HTTP and WebSocket routes; each module turns core calls into one kind of endpoint."""
