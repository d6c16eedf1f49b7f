"""Data freshness and scraper success: the `DataFreshness` and `ScraperSuccess` metrics.

`config` reads each function's settings, `timestamps` parses update times, `table` reads the
newest update per source from DynamoDB, `assess` turns them into ages and statuses, `scrapers`
decides each scraper's last run from `AWS/Lambda` metrics, log status lines and schedule rules,
and `emf` writes the metrics with explicit dimension sets the alarms name.
"""
