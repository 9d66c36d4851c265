//! Names to small ids for the hot path: interfaces, services, regions and reasons, each table
//! bounded so that hostile input cannot grow memory without end.

use rustc_hash::FxHashMap;

/// Distinct names kept per kind (interfaces, services, regions, reasons); past that, hostile
/// or broken input cannot grow memory: further names all count as `OTHER`.
const NAMES_KEPT: usize = 1 << 20;

/// The name standing for every name past `NAMES_KEPT`.
const OTHER: &str = "(other)";

/// Names to small ids, remembering the last name looked up.
#[derive(Debug)]
pub struct Interner {
    ids: FxHashMap<Box<[u8]>, u32>,
    names: Vec<String>,
    last: u32,
    limit: usize,
}

impl Default for Interner {
    fn default() -> Interner {
        Interner {
            ids: FxHashMap::default(),
            names: Vec::new(),
            last: 0,
            limit: NAMES_KEPT,
        }
    }
}

impl Interner {
    #[inline]
    /// The id of `name`, added if new (`OTHER` once the table is full).
    pub fn id(&mut self, name: &[u8]) -> u32 {
        if self
            .names
            .get(self.last as usize)
            .is_some_and(|last| last.as_bytes() == name)
        {
            return self.last;
        }
        let id = match self.ids.get(name) {
            Some(&id) => id,
            None if self.names.len() >= self.limit => self.insert(OTHER.as_bytes()),
            None => self.insert(name),
        };
        self.last = id;
        id
    }

    /// Every name, indexed by id.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    fn insert(&mut self, name: &[u8]) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.ids.insert(name.into(), id);
        self.names.push(String::from_utf8_lossy(name).into_owned());
        id
    }

    /// The name of an id.
    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interner_stops_growing_at_its_bound() {
        let mut interner = Interner {
            limit: 100,
            ..Interner::default()
        };
        let names: Vec<String> = (0..110).map(|n| format!("eni-{n}")).collect();
        let ids: Vec<u32> = names
            .iter()
            .map(|name| interner.id(name.as_bytes()))
            .collect();
        assert_eq!(interner.names.len(), 101);
        assert_eq!(interner.name(ids[105]), OTHER);
        assert_eq!(interner.id(b"eni-7"), 7);
    }
}
