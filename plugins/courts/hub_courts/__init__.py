"""Court and bailiff feeds: the courts portal (portalquery.just.ro) polled for the municipality's
cases, the hearing calendar, paper acts' daily handover lists (centralizator) and the notice
board (afișare). Entry point: :mod:`hub_courts.plugin`."""
