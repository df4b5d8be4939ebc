"""SQL reports compared with plain pandas references."""
