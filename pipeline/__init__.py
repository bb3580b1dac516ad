"""invoice-sync: correlates issued invoices with tax-platform acknowledgements on Kafka."""

__version__ = "0.1.0"
