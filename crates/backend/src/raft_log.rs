//! The Raft log database (`member/raft.redb`); written by the raft work.
