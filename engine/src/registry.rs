//! Provider lookup by cloud name, and kind schemas by kind.
//!
//! The registry only holds what the CLI wired in; it never constructs providers itself.

use std::collections::HashMap;
use std::sync::Arc;

use slipway_provider::{Expander, Kind, KindSchema, Provider};

/// The expanders and providers available to the engine, keyed by cloud name (`aws`, `azure`).
#[derive(Default, Clone)]
pub struct Registry {
    expanders: HashMap<String, Arc<dyn Expander>>,
    providers: HashMap<String, Arc<dyn Provider>>,
    kinds: HashMap<Kind, KindSchema>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut expanders: Vec<_> = self.expanders.keys().collect();
        expanders.sort();
        let mut providers: Vec<_> = self.providers.keys().collect();
        providers.sort();
        f.debug_struct("Registry")
            .field("expanders", &expanders)
            .field("providers", &providers)
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers an expander (enough for graphs and plans without refresh).
    pub fn add_expander(&mut self, e: Arc<dyn Expander>) {
        for schema in e.kinds() {
            self.kinds.insert(schema.kind.clone(), schema.clone());
        }
        self.expanders.insert(e.name().to_owned(), e);
    }

    /// Registers a provider and, since every provider is an expander, its expander too.
    pub fn add_provider(&mut self, p: Arc<dyn Provider>) {
        for schema in p.kinds() {
            self.kinds.insert(schema.kind.clone(), schema.clone());
        }
        self.providers.insert(p.name().to_owned(), p.clone());
        // Upcast the provider to its expander half.
        let e: Arc<dyn Expander> = p;
        self.expanders.insert(e.name().to_owned(), e);
    }

    /// The expander for a cloud name.
    pub fn expander(&self, name: &str) -> Option<&Arc<dyn Expander>> {
        self.expanders.get(name)
    }

    /// The provider for a cloud name.
    pub fn provider(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        self.providers.get(name)
    }

    /// The schema of a kind, from whichever registered expander declares it.
    pub fn schema(&self, kind: &Kind) -> Option<&KindSchema> {
        self.kinds.get(kind)
    }
}
