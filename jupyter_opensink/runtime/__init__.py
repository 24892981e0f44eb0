"""What runs by itself on the server's event loop: events, and later callbacks and cron."""
