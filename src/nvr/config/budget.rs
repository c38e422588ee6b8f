//! The size of a YAML document once its aliases are expanded, measured
//! before anything is built from it.
//!
//! serde_yaml bounds the number of alias *jumps*, not what they expand to:
//! one anchored list of 50,000 items aliased 4,000 times is 120 KB of text
//! and 200 million values. So the document is first walked with a visitor
//! that builds nothing and stops at the budget; only a document that fits is
//! then deserialized into a `Value`.
//!
//! The walk goes through serde_yaml itself (the same libyaml events, the same
//! alias resolution) rather than a second YAML parser: a second parser that
//! read the text differently would either refuse valid configs or let a bomb
//! through. It replays aliases like the real deserialization, so its time is
//! bounded by the budget, and it allocates nothing per node.

use serde::de::{self, DeserializeSeed, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};
use std::fmt;

/// What the expanded document may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Values of every kind: scalars, lists, mappings, tags, keys included.
    pub nodes: u64,
    /// The text of string scalars (keys included).
    pub bytes: u64,
}

/// What the walk found, and which limit stopped it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub nodes: u64,
    pub bytes: u64,
    pub exceeded: Option<Limit>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Nodes,
    Bytes,
}

/// Walks `text` as serde_yaml would deserialize it, aliases expanded, and
/// stops as soon as the expansion passes `budget`. On a YAML error (syntax,
/// unknown anchor, ...) the error is returned and `Tally::exceeded` is `None`;
/// when the budget stopped the walk, `exceeded` says which limit did.
pub fn measure(text: &str, budget: Budget) -> (Tally, Result<(), serde_yaml::Error>) {
    let mut tally = Tally::default();
    let result = Counter {
        tally: &mut tally,
        budget,
    }
    .deserialize(serde_yaml::Deserializer::from_str(text));
    (tally, result)
}

struct Counter<'a> {
    tally: &'a mut Tally,
    budget: Budget,
}

impl Counter<'_> {
    fn child(&mut self) -> Counter<'_> {
        Counter {
            tally: self.tally,
            budget: self.budget,
        }
    }

    fn node<E: de::Error>(&mut self, bytes: usize) -> Result<(), E> {
        self.tally.nodes += 1;
        self.tally.bytes = self
            .tally
            .bytes
            .saturating_add(u64::try_from(bytes).unwrap_or(u64::MAX));
        let exceeded = if self.tally.nodes > self.budget.nodes {
            Some(Limit::Nodes)
        } else if self.tally.bytes > self.budget.bytes {
            Some(Limit::Bytes)
        } else {
            None
        };
        match exceeded {
            None => Ok(()),
            Some(limit) => {
                self.tally.exceeded = Some(limit);
                Err(E::custom("expansion budget exceeded"))
            }
        }
    }
}

impl<'de> DeserializeSeed<'de> for Counter<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Counter<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(mut self, _: bool) -> Result<(), E> {
        self.node(0)
    }

    fn visit_i64<E: de::Error>(mut self, _: i64) -> Result<(), E> {
        self.node(0)
    }

    fn visit_u64<E: de::Error>(mut self, _: u64) -> Result<(), E> {
        self.node(0)
    }

    fn visit_i128<E: de::Error>(mut self, _: i128) -> Result<(), E> {
        self.node(0)
    }

    fn visit_u128<E: de::Error>(mut self, _: u128) -> Result<(), E> {
        self.node(0)
    }

    fn visit_f64<E: de::Error>(mut self, _: f64) -> Result<(), E> {
        self.node(0)
    }

    fn visit_str<E: de::Error>(mut self, s: &str) -> Result<(), E> {
        self.node(s.len())
    }

    fn visit_bytes<E: de::Error>(mut self, b: &[u8]) -> Result<(), E> {
        self.node(b.len())
    }

    fn visit_unit<E: de::Error>(mut self) -> Result<(), E> {
        self.node(0)
    }

    fn visit_none<E: de::Error>(mut self) -> Result<(), E> {
        self.node(0)
    }

    fn visit_some<D: de::Deserializer<'de>>(mut self, deserializer: D) -> Result<(), D::Error> {
        self.child().deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        self.node(0)?;
        while seq.next_element_seed(self.child())?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        self.node(0)?;
        while map.next_key_seed(self.child())?.is_some() {
            map.next_value_seed(self.child())?;
        }
        Ok(())
    }

    /// A tagged value (`!tag value`): the tag, then the value it carries.
    fn visit_enum<A: EnumAccess<'de>>(mut self, data: A) -> Result<(), A::Error> {
        let (tag, contents) = data.variant::<String>()?;
        self.node(tag.len())?;
        contents.newtype_variant_seed(self.child())
    }
}
