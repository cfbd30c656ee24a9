"""The model server's latency histogram bounds (seconds): one list for the server, the gate's config
check and the alert rules, so a latency limit is always one the histogram can judge. Stdlib only."""

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
