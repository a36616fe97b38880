"""The read side: SQL in `api/sql/`, results shaped into response schemas.

Every query filters by workspace first. Functions return None for "not found";
routers turn that into a 404 (api/errors.py).
"""
