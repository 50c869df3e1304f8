"""ICANN's monthly registry reports (Registry Agreement, Specification 3): the per-registrar
transactions report and the registry functions activity report, as CSV (`monthly`)."""
