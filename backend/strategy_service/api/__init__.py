"""HTTP plumbing shared by every domain: dependencies, routing, error bodies, logging."""
