//! Query strings and path segments: every value percent-encoded (by the `percent-encoding` crate, already
//! in the graph through ureq), so no value can add a parameter, end the query or smuggle a fragment.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`) is encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Appends `value`, percent-encoded, to `out`.
pub(crate) fn push_encoded(out: &mut String, value: &str) {
    out.extend(utf8_percent_encode(value, COMPONENT));
}

/// Appends `name=value` pairs to a path or URL, after `?` or `&` as the path needs.
pub(crate) fn append<'a>(out: &mut String, params: impl IntoIterator<Item = (&'a str, &'a str)>) {
    let mut separator = if out.contains('?') { '&' } else { '?' };
    for (name, value) in params {
        out.push(separator);
        push_encoded(out, name);
        out.push('=');
        push_encoded(out, value);
        separator = '&';
    }
}

/// Appends the pairs whose value is set (see [`append`]).
pub(crate) fn append_set<'a>(
    out: &mut String,
    params: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) {
    append(
        out,
        params
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?))),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_encoded_and_separators_chosen() {
        let mut out = String::new();
        push_encoded(&mut out, "a b&c=d/e?f#g%h+i~j.k_l-m语");
        assert_eq!(out, "a%20b%26c%3Dd%2Fe%3Ff%23g%25h%2Bi~j.k_l-m%E8%AF%AD");
        let mut path = "models".to_string();
        append(&mut path, [("type", "text"), ("sub type", "a&b")]);
        assert_eq!(path, "models?type=text&sub%20type=a%26b");
        append(&mut path, [("x", "1")]);
        assert!(path.ends_with("&x=1"));
    }
}
