//! Serde helpers the generated types use for the JSON wire format.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// `skip_serializing_if` for collections: absent on the wire when empty.
pub(crate) fn is_empty<T>(value: &T) -> bool
where
    for<'a> &'a T: IntoIterator,
{
    value.into_iter().next().is_none()
}

/// Decodes `null` as the empty collection, as Google's JSON mapping of proto3 does.
pub(crate) fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A generated struct, decoded field by field into its default value by [`decode_struct`].
///
/// serde's derive decodes every field inline in one function, each field's code in a local
/// of its own that is moved into the struct at the end: for `Course`, 17 KB of code for 21
/// fields. Here each field is a call to one of a few shared, out-of-line functions
/// ([`field`], [`field_with`]) that write straight into the struct, about 2 KB for `Course`;
/// listing courses took 3-5% less CPU (`list_throughput`). And a struct can be decoded where it
/// will stay ([`page_items`] decodes each item in its place in the list), where one returned
/// by value is copied at each step on its way out of the decoder: four times for a 560-byte
/// `Course`, which cost a further 6-8%.
pub(crate) trait Fields: Default {
    /// The struct's name, for errors.
    const NAME: &'static str;
    /// The fields' names on the wire, by number.
    const FIELDS: &'static [&'static str];

    /// The number of the field called `name` on the wire, if the struct has one.
    fn field_number(name: &str) -> Option<usize>;

    /// Decodes the next value of `map` into field `number`.
    fn decode_field<'de, A: de::MapAccess<'de>>(
        &mut self,
        number: usize,
        map: &mut A,
    ) -> Result<(), A::Error>;
}

/// Decodes a [`Fields`] struct from a map: fields absent stay at their default, unknown ones
/// are skipped, and a field given twice is an error (as with serde's derive).
pub(crate) fn decode_struct<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Fields,
{
    let mut value = T::default();
    decode_into(deserializer, &mut value)?;
    Ok(value)
}

/// Decodes a [`Fields`] struct into `place`, which holds its default: the struct is written
/// where it will stay, never moved on its way out of the decoder.
fn decode_into<'de, D, T>(deserializer: D, place: &mut T) -> Result<(), D::Error>
where
    D: Deserializer<'de>,
    T: Fields,
{
    struct StructVisitor<'a, T>(&'a mut T);

    impl<'de, T: Fields> Visitor<'de> for StructVisitor<'_, T> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "struct {}", T::NAME)
        }

        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            // Fields past the 128th (none in Classroom v1) are not checked for repeats.
            let mut seen = 0u128;
            while let Some(number) = map.next_key_seed(FieldName::<T>(PhantomData))? {
                let Some(number) = number else {
                    map.next_value::<de::IgnoredAny>()?;
                    continue;
                };
                let bit = 1u128.checked_shl(number as u32).unwrap_or(0);
                if seen & bit != 0 {
                    return Err(de::Error::duplicate_field(T::FIELDS[number]));
                }
                seen |= bit;
                self.0.decode_field(number, &mut map)?;
            }
            Ok(())
        }
    }

    /// A key of the map, as the number of the field it names.
    struct FieldName<T>(PhantomData<T>);

    impl<'de, T: Fields> de::DeserializeSeed<'de> for FieldName<T> {
        type Value = Option<usize>;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
            d.deserialize_identifier(self)
        }
    }

    impl<T: Fields> Visitor<'_> for FieldName<T> {
        type Value = Option<usize>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a field name")
        }

        fn visit_str<E: de::Error>(self, name: &str) -> Result<Option<usize>, E> {
            Ok(T::field_number(name))
        }
    }

    deserializer.deserialize_struct(T::NAME, T::FIELDS, StructVisitor(place))
}

/// Decodes the next value of `map` into `slot`, as `T` decodes itself. Out of line, so that
/// each field of each struct is a call here rather than a copy of the decoding code.
#[inline(never)]
pub(crate) fn field<'de, A, T>(map: &mut A, slot: &mut T) -> Result<(), A::Error>
where
    A: de::MapAccess<'de>,
    T: Deserialize<'de>,
{
    *slot = map.next_value()?;
    Ok(())
}

/// Decodes the next value of `map` into `slot` with the decoder `W` (one of [`Timestamp`],
/// [`Nullable`], [`PageItems`], [`IntString`]).
#[inline(never)]
pub(crate) fn field_with<'de, A, W, T>(map: &mut A, slot: &mut T, _: W) -> Result<(), A::Error>
where
    A: de::MapAccess<'de>,
    W: DecodeWith<'de, T>,
{
    struct Seed<W, T>(PhantomData<(W, T)>);

    impl<'de, W: DecodeWith<'de, T>, T> de::DeserializeSeed<'de> for Seed<W, T> {
        type Value = T;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
            W::decode(d)
        }
    }

    *slot = map.next_value_seed(Seed::<W, T>(PhantomData))?;
    Ok(())
}

/// A way of decoding a field other than its type's own, named by a unit struct.
pub(crate) trait DecodeWith<'de, T> {
    fn decode<D: Deserializer<'de>>(deserializer: D) -> Result<T, D::Error>;
}

/// Decodes with [`timestamp`].
pub(crate) struct Timestamp;

impl<'de> DecodeWith<'de, Option<DateTime<Utc>>> for Timestamp {
    fn decode<D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        timestamp(d)
    }
}

/// Decodes with [`nullable`].
pub(crate) struct Nullable;

impl<'de, T: Deserialize<'de> + Default> DecodeWith<'de, T> for Nullable {
    fn decode<D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        nullable(d)
    }
}

/// Decodes with [`page_items`].
pub(crate) struct PageItems;

impl<'de, T: Fields> DecodeWith<'de, Vec<T>> for PageItems {
    fn decode<D: Deserializer<'de>>(d: D) -> Result<Vec<T>, D::Error> {
        page_items(d)
    }
}

/// Decodes with [`int_string::deserialize`].
#[allow(dead_code)]
pub(crate) struct IntString;

impl<'de, T> DecodeWith<'de, Option<T>> for IntString
where
    T: std::str::FromStr,
    T::Err: fmt::Display,
{
    fn decode<D: Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
        int_string::deserialize(d)
    }
}

thread_local! {
    /// How many items the page being decoded on this thread is expected to hold; see
    /// [`with_page_capacity`].
    static PAGE_CAPACITY: Cell<usize> = const { Cell::new(0) };
}

/// Runs `decode` (synchronous, so no other task's decoding can interleave) with the list of
/// the page it decodes allocated for `expected` items: growing it item by item instead copies
/// the whole list once more in all, and cost 2-3% of a listing's instructions (callgrind).
/// `expected` is capped at what a body of `body_len` bytes can hold, so a page size far beyond
/// the reply allocates nothing extra.
pub(crate) fn with_page_capacity<R>(
    expected: usize,
    body_len: usize,
    decode: impl FnOnce() -> R,
) -> R {
    /// No item of a list takes fewer bytes than `{}` and its comma.
    const MIN_ITEM_BYTES: usize = 3;
    struct Reset(usize);
    impl Drop for Reset {
        fn drop(&mut self) {
            PAGE_CAPACITY.with(|c| c.set(self.0));
        }
    }
    let capacity = expected.min(body_len / MIN_ITEM_BYTES + 1);
    let _reset = Reset(PAGE_CAPACITY.with(|c| c.replace(capacity)));
    decode()
}

/// The items of a page (`null` as none), in a vector allocated for as many as were asked for
/// ([`with_page_capacity`]), each decoded in place; when far fewer came, the spare room is
/// given back.
pub(crate) fn page_items<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Fields,
{
    struct Items<T>(PhantomData<T>);

    /// Decodes the next item straight into a new last element of the list.
    struct Push<'a, T>(&'a mut Vec<T>);

    impl<'de, T: Fields> de::DeserializeSeed<'de> for Push<'_, T> {
        type Value = ();

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            let at = self.0.len();
            // Unlike `push`, which builds the default on the stack and copies it in, this
            // writes it where it stays.
            self.0.resize_with(at + 1, T::default);
            decode_into(d, &mut self.0[at])
        }
    }

    impl<'de, T: Fields> Visitor<'de> for Items<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of items")
        }

        fn visit_unit<E: de::Error>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }

        fn visit_none<E: de::Error>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }

        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<T>, D::Error> {
            deserializer.deserialize_seq(self)
        }

        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            // Taken, so that no other list decoded on this thread uses it.
            let expected = PAGE_CAPACITY.with(|c| c.replace(0));
            let mut items = Vec::new();
            // Where that much memory cannot be had, the list grows as items come instead.
            let _ = items.try_reserve_exact(expected);
            // Each item is decoded where it stays: a 560-byte `Course` returned by value was
            // copied four times on its way into the list.
            while seq.next_element_seed(Push(&mut items))?.is_some() {}
            if items.len() < expected / 2 {
                items.shrink_to_fit();
            }
            Ok(items)
        }
    }

    deserializer.deserialize_option(Items(PhantomData))
}

/// Decodes a value from its string form; for enums `From<String>` keeps an unknown value.
pub(crate) fn string_value<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: for<'a> From<&'a str> + From<String>,
{
    struct EnumVisitor<T>(PhantomData<T>);

    impl<T> Visitor<'_> for EnumVisitor<T>
    where
        T: for<'a> From<&'a str> + From<String>,
    {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an enum value as a string")
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<T, E> {
            Ok(T::from(value))
        }

        fn visit_string<E: de::Error>(self, value: String) -> Result<T, E> {
            Ok(T::from(value))
        }
    }

    deserializer.deserialize_str(EnumVisitor(PhantomData))
}

/// Decodes an optional RFC 3339 timestamp (`google-datetime`). chrono's strict RFC 3339 parser
/// reads the form Google sends about five times faster than the lenient `FromStr` its serde
/// support uses (25 ns against 125 ns; a page of 1,000 courses holds 2,000 timestamps), so it
/// goes first; whatever it refuses gets the lenient parser, so every value that decoded before
/// still decodes, to the same instant, and a bad one fails with the same message.
pub(crate) fn timestamp<'de, D>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error>
where
    D: Deserializer<'de>,
{
    struct TimestampVisitor;

    impl<'de> Visitor<'de> for TimestampVisitor {
        type Value = Option<DateTime<Utc>>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an RFC 3339 timestamp")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_str(self)
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
            match DateTime::parse_from_rfc3339(value) {
                Ok(time) => Ok(Some(time.with_timezone(&Utc))),
                Err(_) => value.parse().map(Some).map_err(E::custom),
            }
        }
    }

    deserializer.deserialize_option(TimestampVisitor)
}

/// 64-bit integers travel as JSON strings (`"123"`); numbers are accepted too. Used by the
/// generated types wherever the discovery document has a `format: int64` string field
/// (Classroom v1 has none today).
#[allow(dead_code)]
pub(crate) mod int_string {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer, T: Display>(
        value: &Option<T>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => serializer.collect_str(v),
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: FromStr,
        T::Err: Display,
    {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(serde_json::Number),
        }
        match Option::<Raw>::deserialize(deserializer)? {
            None => Ok(None),
            Some(Raw::Text(s)) => s.parse().map(Some).map_err(serde::de::Error::custom),
            Some(Raw::Number(n)) => n
                .to_string()
                .parse()
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Deserialize)]
    struct Fast(#[serde(deserialize_with = "timestamp")] Option<DateTime<Utc>>);

    /// The generated decoder keeps serde's derive's rules: fields absent or `null` take their
    /// default, unknown ones (of any shape) are skipped, escaped names are matched after
    /// unescaping, and a field given twice, or an array for a struct, is an error.
    #[test]
    fn structs_decode_field_by_field_as_the_derive_did() {
        use crate::models::{Course, CourseState};
        let course: Course = serde_json::from_str(
            r#"{"id":"1","n\u0061me":"Math","courseMaterialSets":null,"future":{"a":[1,{"b":null}]},
                "courseState":"ACTIVE","gradebookSettings":{"gradeCategories":[{"weight":10}]},
                "creationTime":"2026-01-02T03:04:05Z","room":null,"guardiansEnabled":true}"#,
        )
        .unwrap();
        assert_eq!(course.id.as_deref(), Some("1"));
        assert_eq!(course.name.as_deref(), Some("Math"));
        assert_eq!(course.course_state, Some(CourseState::Active));
        assert_eq!(course.room, None);
        assert_eq!(course.guardians_enabled, Some(true));
        assert!(course.course_material_sets.is_empty());
        let categories = &course.gradebook_settings.unwrap().grade_categories;
        assert_eq!(categories[0].weight, Some(10));
        assert_eq!(
            course.creation_time.unwrap().to_rfc3339(),
            "2026-01-02T03:04:05+00:00"
        );
        assert_eq!(
            serde_json::from_str::<Course>("{}").unwrap(),
            Course::default()
        );

        let twice = serde_json::from_str::<Course>(r#"{"id":"1","name":"a","id":"2"}"#);
        assert!(
            twice
                .unwrap_err()
                .to_string()
                .contains("duplicate field `id`"),
            "a repeated field is refused"
        );
        let array = serde_json::from_str::<Course>(r#"["1","Math"]"#).unwrap_err();
        assert!(
            array.to_string().contains("expected struct Course"),
            "{array}"
        );
        let wrong = serde_json::from_str::<Course>(r#"{"name":5}"#).unwrap_err();
        assert!(
            wrong.to_string().contains("invalid type: integer `5`"),
            "{wrong}"
        );
        let page = r#"{"courses":[{"id":"1"},null]}"#;
        let null_item = serde_json::from_str::<crate::models::ListCoursesResponse>(page);
        assert!(
            null_item
                .unwrap_err()
                .to_string()
                .contains("expected struct Course"),
            "a null item of a page is an error, as with the derive"
        );
        let value = serde_json::json!({"id": "7", "teacherFolder": {"title": "T"}});
        let course: Course = serde_json::from_value(value).unwrap();
        assert_eq!(course.teacher_folder.unwrap().title.as_deref(), Some("T"));
    }

    /// An int64 field, as the generator writes one (Classroom v1 has none): a string or a
    /// number on the way in, a string on the way out.
    #[test]
    fn int64_fields_travel_as_strings() {
        #[derive(Debug, Default, PartialEq, serde::Serialize)]
        struct Counter {
            #[serde(serialize_with = "int_string::serialize")]
            n: Option<i64>,
        }
        impl<'de> Deserialize<'de> for Counter {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                decode_struct(d)
            }
        }
        impl Fields for Counter {
            const NAME: &'static str = "Counter";
            const FIELDS: &'static [&'static str] = &["n"];
            fn field_number(name: &str) -> Option<usize> {
                (name == "n").then_some(0)
            }
            fn decode_field<'de, A: de::MapAccess<'de>>(
                &mut self,
                _: usize,
                map: &mut A,
            ) -> Result<(), A::Error> {
                field_with(map, &mut self.n, IntString)
            }
        }
        let from = |json: &str| serde_json::from_str::<Counter>(json).map(|c| c.n);
        assert_eq!(
            from(r#"{"n":"9007199254740993"}"#).unwrap(),
            Some(9_007_199_254_740_993)
        );
        assert_eq!(from(r#"{"n":-5}"#).unwrap(), Some(-5));
        assert_eq!(from(r#"{"n":null}"#).unwrap(), None);
        assert!(from(r#"{"n":"x"}"#).is_err());
        let text = serde_json::to_string(&Counter { n: Some(7) }).unwrap();
        assert_eq!(text, r#"{"n":"7"}"#);
    }

    /// A decoding error names the field where it happened, through nested structs and lists.
    #[test]
    fn errors_in_generated_structs_have_their_path() {
        use crate::models::ListCoursesResponse;
        let body = r#"{"courses":[{},{"gradebookSettings":{"gradeCategories":[{"weight":"x"}]}}]}"#;
        let mut de = serde_json::Deserializer::from_str(body);
        let error = serde_path_to_error::deserialize::<_, ListCoursesResponse>(&mut de)
            .err()
            .unwrap();
        assert_eq!(
            error.path().to_string(),
            "courses[1].gradebookSettings.gradeCategories[0].weight"
        );
    }

    /// The page's list takes the capacity, capped at what the body could hold, and no list
    /// decoded later on the thread sees it.
    #[test]
    fn a_page_capacity_is_capped_by_the_body_and_used_once() {
        use crate::models::ListCoursesResponse;
        let body = r#"{"courses":[{"id":"1","courseMaterialSets":[]},{}],"nextPageToken":"t"}"#;
        let page: ListCoursesResponse =
            with_page_capacity(3, body.len(), || serde_json::from_str(body).unwrap());
        assert_eq!((page.courses.len(), page.courses.capacity()), (2, 3));
        let cap = with_page_capacity(usize::MAX, 30, || PAGE_CAPACITY.with(Cell::get));
        assert_eq!(cap, 11, "30 bytes hold at most 11 items");
        assert_eq!(PAGE_CAPACITY.with(Cell::get), 0, "reset once decoded");
        let page: ListCoursesResponse = serde_json::from_str(body).unwrap();
        assert_eq!(page.courses.capacity(), 4, "grown as serde grows it");
        let none: ListCoursesResponse = serde_json::from_str(r#"{"courses":null}"#).unwrap();
        assert!(none.courses.is_empty());
        // Room that cannot be had is no panic: the list grows as items come.
        let page: ListCoursesResponse = with_page_capacity(usize::MAX, usize::MAX, || {
            serde_json::from_str(body).unwrap()
        });
        assert_eq!(page.courses.len(), 2);
    }

    fn fast(json: &str) -> Result<Option<DateTime<Utc>>, String> {
        serde_json::from_str::<Fast>(json)
            .map(|f| f.0)
            .map_err(|e| e.to_string())
    }

    /// What chrono's own serde support makes of the same JSON.
    fn lenient(json: &str) -> Result<Option<DateTime<Utc>>, String> {
        serde_json::from_str::<Option<DateTime<Utc>>>(json).map_err(|e| e.to_string())
    }

    #[test]
    fn timestamps_decode_as_chronos_serde_decodes_them() {
        for json in [
            r#""2026-08-20T14:03:11.123Z""#,
            r#""2026-08-20T14:03:11Z""#,
            r#""2026-08-20T14:03:11.123456789+05:30""#,
            r#""2026-08-20t14:03:11z""#,
            r#""2026-08-20 14:03:11Z""#,
            r#""2016-12-31T23:59:60Z""#,
            r#""2026-08-20T14:03:11""#,
            r#""2026-02-30T00:00:00Z""#,
            r#""yesterday""#,
            r#""""#,
            "null",
        ] {
            assert_eq!(fast(json), lenient(json), "{json}");
        }
        assert!(fast("12").is_err() && fast("{}").is_err());
        let course: crate::models::Course =
            serde_json::from_str(r#"{"creationTime": null}"#).unwrap();
        assert_eq!(course.creation_time, None);
        let course: crate::models::Course =
            serde_json::from_str(r#"{"updateTime": "2026-11-01T09:45:00.456Z"}"#).unwrap();
        assert_eq!(
            course.update_time.map(|t| t.timestamp_millis()),
            Some(1_793_526_300_456)
        );
    }

    proptest! {
        #[test]
        fn any_timestamp_like_string_decodes_as_chronos_serde_decodes_it(
            text in "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,12})?([Zz]|[+-][0-9]{2}:?[0-9]{2})?"
        ) {
            let json = format!("\"{text}\"");
            prop_assert_eq!(fast(&json), lenient(&json));
        }
    }
}
