"""Business rules: one module per command family. Each flow runs in one transaction and never sees XML."""
