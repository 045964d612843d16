//! kx-node: the KX provider node as a library, so that tests can run nodes in
//! process. The binary (`main.rs`) parses flags and calls [`run::run`].

pub mod backup;
pub mod catalog;
pub mod checkpoints;
pub mod clock;
pub mod config;
pub mod ctx;
pub mod http;
pub mod index;
pub mod node;
pub mod p2p;
pub mod run;
pub mod store;
pub mod view;
