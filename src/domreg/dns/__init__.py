"""DNS publication: the TLD zones built from the registry's database (`zone`), served and
signed by Knot DNS (`knot`), kept current from the outbox (`publisher`) through a target
(`targets`: Knot's control socket, DNS UPDATE, zone files). See docs/dns.md."""
