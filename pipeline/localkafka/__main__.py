"""``python -m pipeline.localkafka start|stop|status|fetch``."""

from pipeline.localkafka.cli import main

main()
