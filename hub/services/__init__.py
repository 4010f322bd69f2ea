"""HQ services: the logic between the API routes and storage, and the hub's background workers."""
