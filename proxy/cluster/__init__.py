"""Several relay nodes as one: events fanned out between nodes, and leases so that a job (an Odoo
follower) runs on exactly one node at a time. base.py says what is promised, redis.py keeps it."""
