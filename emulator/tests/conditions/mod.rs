//! The documented error conditions of every method (`table`) and the scenarios that set them
//! up against the emulator (`walk`).

#![allow(dead_code)]

pub mod table;
