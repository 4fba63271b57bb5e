//! AWS partitions: the one table of the partitions eks-iam-sync knows, and the rule that
//! gives a region's partition from its name alone.
//!
//! It owns which partitions an ARN may name, how a region name is shaped, which partition a
//! region is in and the DNS suffix of a partition's regional endpoints (for the ones whose
//! STS host eks-iam-sync vouches for). It does not build host names: the token signer does.

/// Where a region name carries its partition's mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RegionMark {
    /// Unmarked regions (`eu-west-3`).
    Unmarked,
    /// The country code itself (`cn-north-1`).
    Country(&'static str),
    /// A word after a given country code (`us-gov-west-1`, `us-isob-east-1`); the same word
    /// after another country marks nothing (`eu-gov-west-1` would be an `aws` region).
    Qualifier(&'static str, &'static str),
    /// A word before the country code (`eusc-de-east-1`).
    Prefix(&'static str),
}

/// One AWS partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    name: &'static str,
    region: RegionMark,
    dns_suffix: Option<&'static str>,
}

impl Partition {
    /// The partition's name as it appears in ARNs.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The DNS suffix of the partition's regional endpoints; `None` for partitions whose
    /// host names eks-iam-sync does not vouch for.
    pub fn dns_suffix(&self) -> Option<&'static str> {
        self.dns_suffix
    }
}

const fn partition(
    name: &'static str,
    region: RegionMark,
    dns_suffix: Option<&'static str>,
) -> Partition {
    Partition {
        name,
        region,
        dns_suffix,
    }
}

/// Every partition eks-iam-sync accepts, with its region mark and DNS suffix.
pub const PARTITIONS: &[Partition] = &[
    partition("aws", RegionMark::Unmarked, Some("amazonaws.com")),
    partition(
        "aws-cn",
        RegionMark::Country("cn"),
        Some("amazonaws.com.cn"),
    ),
    partition(
        "aws-us-gov",
        RegionMark::Qualifier("us", "gov"),
        Some("amazonaws.com"),
    ),
    partition(
        "aws-iso",
        RegionMark::Qualifier("us", "iso"),
        Some("c2s.ic.gov"),
    ),
    partition(
        "aws-iso-b",
        RegionMark::Qualifier("us", "isob"),
        Some("sc2s.sgov.gov"),
    ),
    partition("aws-iso-e", RegionMark::Qualifier("eu", "isoe"), None),
    partition("aws-iso-f", RegionMark::Qualifier("us", "isof"), None),
    partition("aws-eusc", RegionMark::Prefix("eusc"), None),
];

/// Whether `text` names a partition of [`PARTITIONS`].
pub fn is_partition(text: &str) -> bool {
    PARTITIONS.iter().any(|p| p.name == text)
}

/// The partition a region belongs to, or `None` when `region` is not shaped like a region of
/// a known partition. Shapes: `eu-west-3`, `cn-north-1`, `us-gov-west-1`, `us-isob-east-1`,
/// `eusc-de-east-1` (lowercase words, then a number of one or two digits).
pub fn partition_of_region(region: &str) -> Option<&'static Partition> {
    let segments: Vec<&str> = region.split('-').collect();
    let (number, words) = segments.split_last()?;
    let letters = |s: &&str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    let number_ok =
        !number.is_empty() && number.len() <= 2 && number.bytes().all(|b| b.is_ascii_digit());
    if !number_ok || !words.iter().all(letters) {
        return None;
    }
    let country = |s: &str| s.len() == 2;
    let find = |wanted: &dyn Fn(RegionMark) -> bool| PARTITIONS.iter().find(|p| wanted(p.region));
    // A plain country region: its country's partition (`cn-…`), else the commercial one.
    let by_country = |c: &str| {
        find(&|m| matches!(m, RegionMark::Country(x) if x == c))
            .or_else(|| find(&|m| m == RegionMark::Unmarked))
    };
    match *words {
        [p, c, _] if country(c) => find(&|m| matches!(m, RegionMark::Prefix(x) if x == p)),
        [c, q, _] if country(c) => {
            find(&|m| matches!(m, RegionMark::Qualifier(x, y) if x == c && y == q))
                .or_else(|| by_country(c))
        }
        [c, _] if country(c) => by_country(c),
        _ => None,
    }
}

/// The name of the partition a region belongs to (see [`partition_of_region`]).
pub fn region_partition(region: &str) -> Option<&'static str> {
    partition_of_region(region).map(Partition::name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_shapes() {
        assert_eq!(region_partition("eu-west-3"), Some("aws"));
        assert_eq!(region_partition("us-gov-west-1"), Some("aws-us-gov"));
        assert_eq!(region_partition("cn-north-1"), Some("aws-cn"));
        assert_eq!(region_partition("us-iso-east-1"), Some("aws-iso"));
        assert_eq!(region_partition("us-isob-east-1"), Some("aws-iso-b"));
        assert_eq!(region_partition("eusc-de-east-1"), Some("aws-eusc"));
        // A qualifier marks a partition only after its own country.
        assert_eq!(region_partition("cn-gov-west-1"), Some("aws-cn"));
        assert_eq!(region_partition("eu-gov-west-1"), Some("aws"));
        for bad in [
            "eu-west",
            "EU-WEST-3",
            "eu-west-3a",
            "europe-west-3",
            "eu-xx-west-1",
            "",
            "eu--3",
            "us_east_1",
            "x-east-1",
        ] {
            assert_eq!(region_partition(bad), None, "{bad}");
        }
    }

    #[test]
    fn partitions() {
        for ok in [
            "aws",
            "aws-cn",
            "aws-us-gov",
            "aws-iso",
            "aws-iso-b",
            "aws-iso-f",
        ] {
            assert!(is_partition(ok), "{ok}");
        }
        for bad in ["", "AWS", "aws-eu", "aws-iso-bb", "aws-isob"] {
            assert!(!is_partition(bad), "{bad}");
        }
    }

    #[test]
    fn only_vouched_partitions_have_a_dns_suffix() {
        let suffix = |r| partition_of_region(r).and_then(Partition::dns_suffix);
        assert_eq!(suffix("cn-north-1"), Some("amazonaws.com.cn"));
        assert_eq!(suffix("us-isob-east-1"), Some("sc2s.sgov.gov"));
        assert_eq!(suffix("eu-isoe-west-1"), None);
    }
}
