"""``hub demo``: the whole hub on one machine, with stand-ins for every remote system.

- :mod:`hub.demo.samples` — realistic sample documents (fictitious people, valid check digits)
- ``routing.toml`` — the demo's routing rules (data: destinations the demo cannot serve drop out)
- :mod:`hub.demo.simulators` — what a plugin implements to take part in the demo
- :mod:`hub.demo.sink` — the departments' webhook endpoints, verifying every signature
- :mod:`hub.demo.runner` — puts it together and shows the deliveries live
"""
