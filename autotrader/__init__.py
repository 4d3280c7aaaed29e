"""autotrader: cron-driven batch jobs that trade US equities and score trading recommendations."""

__version__ = "0.1.0"
