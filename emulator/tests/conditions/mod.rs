//! The documented error conditions of every method (`table`), the school they are set up in
//! (`world`) and how each is set up (`recipes`).

#![allow(dead_code)]

pub mod recipes;
pub mod table;
pub mod world;
