"""Work off the request path: the durable job interface and the keyed, ordered thread pool."""
