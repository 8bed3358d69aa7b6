"""The web side: fetching (fetch, transport, netpolicy), decoding (charset), turning
pages, listings and feeds into articles (extract, listings), and WebSub pings."""
