"""Work across threads and the event loop: prefetching iterators, event logs, caches."""
