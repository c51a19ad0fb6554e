"""The HTTP edge: FastAPI app factory, protocol routes, admin routes."""
