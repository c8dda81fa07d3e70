"""Feed formats and injection: read a delivery, write each holder's copy with its canaries."""
