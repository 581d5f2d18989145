//! Borrowing JSON helpers: strings that borrow from the input when they hold no escape,
//! and tag objects parsed into a reusable vector.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

/// A JSON string that borrows from the input unless it had escapes (`caf\u00e9`).
pub(crate) struct BStr<'de>(pub(crate) Cow<'de, str>);

impl<'de> de::Deserialize<'de> for BStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(BStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(BStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(BStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A tag list being filled: `(key, value)` in input order.
pub(crate) type TagVec<'de> = Vec<(Cow<'de, str>, Cow<'de, str>)>;

/// Appends the pairs of a JSON object of string values to a vector; `null` appends
/// nothing (k6 writes `"tags": null` for untagged samples in older versions).
pub(crate) struct TagsSeed<'s, 'de>(pub(crate) &'s mut TagVec<'de>);

impl<'de> DeserializeSeed<'de> for TagsSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for TagsSeed<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of string tag values, or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(k) = map.next_key::<BStr<'de>>()? {
            let v: BStr<'de> = map.next_value()?;
            self.0.push((k.0, v.0));
        }
        Ok(())
    }
}

/// Parses the store's `tags` JSON column value into pairs sorted by key (the writer
/// sorted them). `None` when the text is not such an object.
pub(crate) fn parse_tag_object(s: &str) -> Option<TagVec<'_>> {
    let mut v = Vec::new();
    let mut de = serde_json::Deserializer::from_str(s);
    TagsSeed(&mut v).deserialize(&mut de).ok()?;
    de.end().ok()?;
    v.sort_by(|a, b| a.0.cmp(&b.0));
    Some(v)
}
