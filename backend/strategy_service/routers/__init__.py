"""HTTP routers: parse, authorize, call a service, shape the response."""
