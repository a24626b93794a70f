//! mvcc (being written)
