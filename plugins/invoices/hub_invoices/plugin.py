"""Entry point of the `hub-invoices` plugin.

Registered in the `hub` entry-point group like any third-party plugin. The connector itself
arrives with its own issue; until then the plugin contributes nothing and the hub reports it as
loaded with no connectors.
"""
