//! The applications an engine runs jobs of: the built-ins (`synthetic`, `gzip`)
//! and any an embedder registers ([`Engine::register_application`]).
//!
//! The registry is code, not state: a snapshot does not carry it, so an embedder
//! registers its applications again after restoring one.
//!
//! [`Engine::register_application`]: super::Engine::register_application

use alloc::string::String;
use alloc::vec::Vec;

use crate::application::{application, Application, APPLICATION_NAMES};

#[derive(Clone)]
pub(super) struct Applications {
    apps: Vec<&'static dyn Application>,
}

impl Default for Applications {
    fn default() -> Self {
        Applications { apps: APPLICATION_NAMES.iter().filter_map(|n| application(n)).collect() }
    }
}

impl Applications {
    pub fn get(&self, name: &str) -> Option<&'static dyn Application> {
        self.apps.iter().copied().find(|a| a.name() == name)
    }

    /// Adds an application, or replaces the one of the same name.
    pub fn register(&mut self, app: &'static dyn Application) {
        match self.apps.iter_mut().find(|a| a.name() == app.name()) {
            Some(slot) => *slot = app,
            None => self.apps.push(app),
        }
    }

    /// The names known, comma-separated, for error messages.
    pub fn names(&self) -> String {
        let names: Vec<&str> = self.apps.iter().map(|a| a.name()).collect();
        names.join(", ")
    }
}

impl core::fmt::Debug for Applications {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.apps.iter().map(|a| a.name())).finish()
    }
}

/// Two registries are equal when they know the same names, in the same order.
impl PartialEq for Applications {
    fn eq(&self, other: &Self) -> bool {
        self.apps.len() == other.apps.len() && self.apps.iter().zip(&other.apps).all(|(a, b)| a.name() == b.name())
    }
}
