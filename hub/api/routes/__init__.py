"""Route modules, one per resource. Each exports a factory taking the hub and the authenticator,
so handlers close over what they use instead of looking it up per request."""
