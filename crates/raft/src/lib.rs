//! raft (being written)
