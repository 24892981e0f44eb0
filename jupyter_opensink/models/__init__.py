"""Request models: each resource's writable fields, declared once.

They drive body validation (and its 400 messages) on the server and can be
reused by anything that needs the shape of a resource. Pure pydantic: no
server imports, so kernel-side code may import them too.
"""
