"""File readers: the bytes of a landed file in, a DataFrame of raw records out."""
