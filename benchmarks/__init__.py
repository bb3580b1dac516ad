"""``make bench``: throughput, alert lateness, memory and recovery of one worker, real broker."""
