//! Bounds on the lists of an answer, so that a list of millions of tiny entries (`[{},{},…]`) cannot
//! become millions of structs.
//!
//! A whole JSON answer is already bounded by `max_event_size` before it is parsed; what it parses into is
//! bounded here. Every list of every answer type is read by [`collect`] (through [`list`] or
//! [`option_list`] as a field's `deserialize_with`), which enforces two caps and fails the answer past
//! either, with a parser error naming the list (the client reports it as
//! [`Error::MalformedChunk`](crate::Error::MalformedChunk)):
//! - each list holds at most [`Entry::MAX`] entries: 1,024 for chat choices, tool calls and content parts
//!   (the stream's defaults, [`DEFAULT_MAX_CHOICES`], [`DEFAULT_MAX_TOOL_CALLS`], [`MAX_CONTENT_PARTS`]),
//!   [`MAX_LIST_ENTRIES`] (10,000) for the others (models, files, voices, batches, batch errors, images,
//!   videos, embeddings, rerank results);
//! - the entries of a list, counted with those of the lists nested in them (a choice's tool calls and
//!   content parts, a batch's errors), total at most [`MAX_LIST_ENTRIES`].

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Error as _, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

#[cfg(doc)]
use crate::limits::{DEFAULT_MAX_CHOICES, DEFAULT_MAX_TOOL_CALLS};

/// The most entries one list of an answer may hold, counting the entries of the lists nested in its
/// entries: 10,000. Real answers hold a few (models: a few hundred; batch errors: at most one per request
/// of a batch, 5,000).
pub const MAX_LIST_ENTRIES: usize = 10_000;

/// The most content parts one message of an answer may hold: 1,024 (like [`DEFAULT_MAX_TOOL_CALLS`]).
pub const MAX_CONTENT_PARTS: usize = 1024;

/// An entry of a bounded list.
pub(crate) trait Entry {
    /// What the list holds, in the plural, for the error message ("choices", "files").
    const WHAT: &'static str;

    /// The most entries of one such list.
    const MAX: usize = MAX_LIST_ENTRIES;

    /// The entries this one stands for: itself and the entries of the lists nested in it.
    fn entries(&self) -> usize {
        1
    }
}

/// Reads a list, `null` as empty (`deserialize_with`; with `#[serde(default)]`, absent as empty too).
pub(crate) fn list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Entry + Deserialize<'de>,
{
    Ok(option_list(deserializer)?.unwrap_or_default())
}

/// Reads an optional list, `null` as `None` (`deserialize_with`).
pub(crate) fn option_list<'de, D, T>(deserializer: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Entry + Deserialize<'de>,
{
    Option::<Bounded<T>>::deserialize(deserializer).map(|list| list.map(|list| list.0))
}

/// A list read within the bounds.
pub(crate) struct Bounded<T>(pub Vec<T>);

impl<'de, T: Entry + Deserialize<'de>> Deserialize<'de> for Bounded<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_seq(ListVisitor(PhantomData))
            .map(Bounded)
    }
}

struct ListVisitor<T>(PhantomData<T>);

impl<'de, T: Entry + Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a list of {}", T::WHAT)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Vec<T>, A::Error> {
        collect(seq)
    }
}

/// Reads the rest of `seq` as a list within the bounds (for visitors that accept a list among other
/// shapes).
pub(crate) fn collect<'de, A, T>(seq: A) -> Result<Vec<T>, A::Error>
where
    A: SeqAccess<'de>,
    T: Entry + Deserialize<'de>,
{
    let mut items = Vec::new();
    extend(seq, &mut items, 0)?;
    Ok(items)
}

/// Reads the rest of `seq` into `items` within the bounds, `counted` entries being there already (a list
/// merged from several).
pub(crate) fn extend<'de, A, T>(
    mut seq: A,
    items: &mut Vec<T>,
    counted: usize,
) -> Result<usize, A::Error>
where
    A: SeqAccess<'de>,
    T: Entry + Deserialize<'de>,
{
    let mut entries = counted;
    loop {
        if items.len() >= T::MAX {
            // Full: one more entry is an error, and is skipped, not built.
            return match seq.next_element::<IgnoredAny>()? {
                Some(_) => Err(A::Error::custom(too_many::<T>())),
                None => Ok(entries),
            };
        }
        let Some(item) = seq.next_element::<T>()? else {
            return Ok(entries);
        };
        entries = add_entries::<T, A::Error>(entries, item.entries())?;
        items.push(item);
    }
}

/// Adds `item` to `items` within the bounds, `counted` entries being there already (for lists that skip
/// some items); returns the new count.
pub(crate) fn push<T: Entry, E: serde::de::Error>(
    items: &mut Vec<T>,
    item: T,
    counted: usize,
) -> Result<usize, E> {
    if items.len() >= T::MAX {
        return Err(E::custom(too_many::<T>()));
    }
    let counted = add_entries::<T, E>(counted, item.entries())?;
    items.push(item);
    Ok(counted)
}

/// Checks that `items` may take the entries of `more` (a list merged from several), `counted` entries
/// being there already; returns the new count.
pub(crate) fn check_merge<T: Entry, E: serde::de::Error>(
    items: &[T],
    more: &[T],
    counted: usize,
) -> Result<usize, E> {
    if items.len() + more.len() > T::MAX {
        return Err(E::custom(too_many::<T>()));
    }
    more.iter().try_fold(counted, |total, item| {
        add_entries::<T, E>(total, item.entries())
    })
}

fn add_entries<T: Entry, E: serde::de::Error>(total: usize, more: usize) -> Result<usize, E> {
    let total = total.saturating_add(more);
    if total > MAX_LIST_ENTRIES {
        return Err(E::custom(format!(
            "too many entries: a list of {} holds more than {MAX_LIST_ENTRIES} entries, counting the lists \
             nested in them (a bound of this client)",
            T::WHAT
        )));
    }
    Ok(total)
}

fn too_many<T: Entry>() -> String {
    format!(
        "too many {}: more than {} in one list (a bound of this client)",
        T::WHAT,
        T::MAX
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Item {
        #[serde(default)]
        n: u32,
    }

    impl Entry for Item {
        const WHAT: &'static str = "items";
        const MAX: usize = 3;

        fn entries(&self) -> usize {
            1 + self.n as usize
        }
    }

    #[derive(Debug, Deserialize)]
    struct Holder {
        #[serde(default, deserialize_with = "list")]
        items: Vec<Item>,
        #[serde(default, deserialize_with = "option_list")]
        maybe: Option<Vec<Item>>,
    }

    fn read(json: &str) -> Result<Holder, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn lists_up_to_the_cap_read() {
        let h = read(r#"{"items":[{},{"n":1},{}],"maybe":[]}"#).unwrap();
        assert_eq!(h.items.len(), 3);
        assert_eq!(h.maybe.map(|m| m.len()), Some(0));
        let h = read(r#"{"items":null,"maybe":null}"#).unwrap();
        assert!(h.items.is_empty() && h.maybe.is_none());
        assert!(read("{}").unwrap().maybe.is_none());
        assert!(read(r#"{"items":{}}"#).is_err());
    }

    #[test]
    fn one_more_entry_is_an_error() {
        let e = read(r#"{"items":[{},{},{},{}]}"#).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("too many items: more than 3 in one list"),
            "{e}"
        );
        let e = read(r#"{"maybe":[{},{},{},{"n":"not even read"}]}"#).unwrap_err();
        assert!(e.to_string().starts_with("too many items"), "{e}");
    }

    #[test]
    fn nested_entries_count_toward_the_total() {
        let big = MAX_LIST_ENTRIES as u32;
        assert!(read(&format!(r#"{{"items":[{{"n":{}}}]}}"#, big - 1)).is_ok());
        let e = read(&format!(r#"{{"items":[{{"n":{}}},{{}}]}}"#, big - 1)).unwrap_err();
        assert!(e.to_string().contains("counting the lists nested"), "{e}");
    }

    #[test]
    fn through_a_value_too() {
        let h: Holder =
            serde_json::from_value(serde_json::json!({"items": [{}, {}], "maybe": null})).unwrap();
        assert_eq!(h.items.len(), 2);
        assert!(
            serde_json::from_value::<Holder>(serde_json::json!({"items": [{}, {}, {}, {}]}))
                .is_err()
        );
    }
}
