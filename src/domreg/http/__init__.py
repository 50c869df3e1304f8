"""The HTTP service of the registry: RDAP under /rdap/, public pages, the registrar console and
the registry administration, all in one ASGI application on the HTTP port."""
