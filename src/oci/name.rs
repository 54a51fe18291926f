//! Image names, tags and references, parsed with the spec's grammar.
//!
//! Names reach storage as path components and database keys, so anything that could escape
//! (`..`, empty components, `%2F`, upper case, over-long names) is refused here.

use std::fmt;

use super::digest::{Digest, DigestError};

/// Longest accepted name; Docker and Distribution refuse names over 255 characters.
pub const MAX_NAME_LEN: usize = 255;
/// Longest tag the spec's grammar allows (1 + 127).
pub const MAX_TAG_LEN: usize = 128;

/// Why a name, tag or reference was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("invalid repository name: {0}")]
    Name(&'static str),
    #[error("invalid tag: {0}")]
    Tag(&'static str),
    #[error(transparent)]
    Digest(#[from] DigestError),
}

/// An OCI repository name such as `library/redis` (Berth calls it an image name, since a
/// Berth repository, as in Nexus, holds many of them).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageName(Box<str>);

impl ImageName {
    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if s.is_empty() {
            return Err(NameError::Name("empty"));
        }
        if s.len() > MAX_NAME_LEN {
            return Err(NameError::Name("longer than 255 characters"));
        }
        for component in s.split('/') {
            check_component(component)?;
        }
        Ok(ImageName(s.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_component(c: &str) -> Result<(), NameError> {
    let bytes = c.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() {
        return Err(NameError::Name("empty path component"));
    }
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Err(NameError::Name(
            "components must start and end with a lower-case letter or digit",
        ));
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or one or more "-".
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok {
            return Err(NameError::Name(
                "only lower-case letters, digits and the separators . _ __ - are allowed",
            ));
        }
    }
    Ok(())
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Tag(Box<str>);

impl Tag {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if s.is_empty() || s.len() > MAX_TAG_LEN {
            return Err(NameError::Tag("must be 1 to 128 characters"));
        }
        let first_ok = s.as_bytes()[0].is_ascii_alphanumeric() || s.starts_with('_');
        let rest_ok = s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !first_ok || !rest_ok {
            return Err(NameError::Tag("characters outside [a-zA-Z0-9._-]"));
        }
        Ok(Tag(s.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `<reference>` of a manifest URL: a tag or a digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reference {
    Tag(Tag),
    Digest(Digest),
}

impl Reference {
    /// A reference containing `:` can only be a digest; anything else must be a tag.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if s.contains(':') {
            Ok(Reference::Digest(Digest::parse(s)?))
        } else {
            Ok(Reference::Tag(Tag::parse(s)?))
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Tag(t) => t.fmt(f),
            Reference::Digest(d) => d.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_following_the_grammar_are_accepted() {
        for ok in [
            "a",
            "library/redis",
            "my-org/my_app/sub.dir",
            "a__b",
            "a---b",
            "0/1/2",
        ] {
            assert!(ImageName::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn names_with_path_tricks_or_bad_characters_are_refused() {
        let long = "a".repeat(256);
        for bad in [
            "",
            "..",
            "a/../b",
            "a//b",
            "/a",
            "a/",
            "Upper",
            "a%2Fb",
            "a___b",
            "a._b",
            "-a",
            "a-",
            long.as_str(),
        ] {
            assert!(ImageName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(ImageName::parse(&"a".repeat(255)).is_ok());
    }

    #[test]
    fn tags_follow_the_grammar_and_length_limit() {
        assert!(Tag::parse("latest").is_ok());
        assert!(Tag::parse("_v1.2-rc3").is_ok());
        assert!(Tag::parse(&"t".repeat(128)).is_ok());
        assert!(Tag::parse(&"t".repeat(129)).is_err());
        assert!(Tag::parse(".hidden").is_err());
        assert!(Tag::parse("-x").is_err());
        assert!(Tag::parse("a/b").is_err());
        assert!(Tag::parse("").is_err());
    }

    #[test]
    fn references_with_a_colon_are_digests() {
        assert!(matches!(Reference::parse("v1"), Ok(Reference::Tag(_))));
        assert!(Reference::parse("sha256:zz").is_err());
    }
}
