"""HTTP servers: the threaded server, the ops endpoints, the authorization API (R10) and its tokens
and reservations."""
