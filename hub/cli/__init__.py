"""The ``hub`` command line. :func:`hub.cli.main.build_app` assembles it; one module per group."""
