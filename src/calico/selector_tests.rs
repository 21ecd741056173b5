use std::collections::BTreeMap;

use super::selector::Selector;
use super::Error;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
}

/// (column, problem) of a selector that must not parse.
fn error(s: &str) -> (usize, String) {
    match Selector::parse(s) {
        Err(Error::Selector {
            selector,
            column,
            problem,
        }) => {
            assert_eq!(selector, s);
            (column, problem)
        }
        other => panic!("{s:?} should be a selector error, got {other:?}"),
    }
}

#[test]
fn all_and_the_empty_selector_match_everything() {
    let none = labels(&[]);
    let some = labels(&[("rack", "r1")]);
    for s in ["all()", "", "   ", "all( )"] {
        assert!(sel(s).matches(&none), "{s:?}");
        assert!(sel(s).matches(&some), "{s:?}");
    }
    assert!(Selector::all().matches(&none));
}

#[test]
fn has_matches_a_present_label_whatever_its_value() {
    let s = sel("has(route-reflector)");
    assert!(s.matches(&labels(&[("route-reflector", "")])));
    assert!(s.matches(&labels(&[("route-reflector", "true")])));
    assert!(!s.matches(&labels(&[("rack", "r1")])));
    assert!(sel("!has(route-reflector)").matches(&labels(&[("rack", "r1")])));
}

#[test]
fn equality_needs_the_label_but_inequality_matches_when_it_is_absent() {
    let eq = sel("rack == 'rack-1'");
    let ne = sel("rack != 'rack-1'");
    assert!(eq.matches(&labels(&[("rack", "rack-1")])));
    assert!(!eq.matches(&labels(&[("rack", "rack-2")])));
    assert!(!eq.matches(&labels(&[])));
    assert!(!ne.matches(&labels(&[("rack", "rack-1")])));
    assert!(ne.matches(&labels(&[("rack", "rack-2")])));
    assert!(ne.matches(&labels(&[])));
}

#[test]
fn in_and_not_in_test_set_membership_and_not_in_matches_an_absent_label() {
    let inn = sel("zone in {'a', \"b\"}");
    let not_in = sel("zone not in {'a','b'}");
    assert!(inn.matches(&labels(&[("zone", "b")])));
    assert!(!inn.matches(&labels(&[("zone", "c")])));
    assert!(!inn.matches(&labels(&[])));
    assert!(!not_in.matches(&labels(&[("zone", "a")])));
    assert!(not_in.matches(&labels(&[("zone", "c")])));
    assert!(not_in.matches(&labels(&[])));
    assert!(!sel("zone in {}").matches(&labels(&[("zone", "a")])));
}

#[test]
fn and_binds_tighter_than_or_and_parentheses_group() {
    let l = labels(&[("a", "1")]);
    // a == 1 || (b == 2 && c == 3)
    assert!(sel("a == '1' || b == '2' && c == '3'").matches(&l));
    // (a == 1 || b == 2) && c == 3
    assert!(!sel("(a == '1' || b == '2') && c == '3'").matches(&l));
    assert!(sel("!(a == '2') && has(a)").matches(&l));
    assert!(sel("!!has(a)").matches(&l));
}

#[test]
fn labels_may_have_dots_slashes_and_dashes_and_strings_either_quote() {
    let l = labels(&[("kubernetes.io/hostname", "node-1"), ("x_y", "it's")]);
    assert!(sel("kubernetes.io/hostname == \"node-1\"").matches(&l));
    assert!(sel("x_y == \"it's\"").matches(&l));
    assert!(sel("kubernetes.io/hostname=='node-1'&&has(x_y)").matches(&l));
}

#[test]
fn contains_starts_with_and_ends_with_compare_substrings() {
    let l = labels(&[("name", "rack-12-east")]);
    assert!(sel("name contains '12'").matches(&l));
    assert!(sel("name starts with 'rack-'").matches(&l));
    assert!(sel("name ends with 'east'").matches(&l));
    assert!(!sel("name ends with 'west'").matches(&l));
    assert!(!sel("other contains ''").matches(&l));
}

#[test]
fn a_selector_displays_as_the_text_it_was_parsed_from() {
    let s: Selector = "rack == 'r1' && has(x)".parse().expect("parses");
    assert_eq!(s.to_string(), "rack == 'r1' && has(x)");
    assert_eq!(s.as_str(), "rack == 'r1' && has(x)");
}

#[test]
fn a_single_equals_sign_is_refused_at_its_column_with_a_hint() {
    let (column, problem) = error("rack = 'a'");
    assert_eq!(column, 6);
    assert!(problem.contains("use =="), "{problem}");
}

#[test]
fn a_single_ampersand_is_refused_after_a_complete_selector() {
    let (column, problem) = error("rack == 'a' & has(b)");
    assert_eq!(column, 13);
    assert!(problem.contains("use &&"), "{problem}");
}

#[test]
fn unsupported_functions_are_named() {
    let (column, problem) = error("global()");
    assert_eq!(column, 1);
    assert!(problem.contains("global() is not supported"), "{problem}");
    let (column, problem) = error("has(a) && nodes(x)");
    assert_eq!(column, 11);
    assert!(problem.contains("nodes()"), "{problem}");
}

#[test]
fn incomplete_selectors_say_what_was_expected_where() {
    let (c, p) = error("has(");
    assert_eq!(c, 5);
    assert!(p.contains("expected a label inside has"), "{p}");
    let (c, p) = error("rack == 'a");
    assert_eq!(c, 9);
    assert!(p.contains("never closed"), "{p}");
    let (c, p) = error("rack in {'a' 'b'}");
    assert_eq!(c, 14);
    assert!(p.contains("expected ',' or '}'"), "{p}");
    let (c, p) = error("(has(a)");
    assert_eq!(c, 8);
    assert!(p.contains("expected ')'"), "{p}");
    let (c, p) = error("rack");
    assert_eq!(c, 5);
    assert!(p.contains("expected an operator"), "{p}");
    let (c, p) = error("rack == a");
    assert_eq!(c, 9);
    assert!(p.contains("quoted string"), "{p}");
    let (c, p) = error("has(a) &&");
    assert_eq!(c, 10);
    assert!(p.contains("the end of the selector"), "{p}");
    let (c, p) = error("rack not {'a'}");
    assert_eq!(c, 10);
    assert!(p.contains("expected 'in' after 'not'"), "{p}");
}

#[test]
fn the_error_message_names_the_selector_and_column() {
    let e = Selector::parse("rack = 'a'").expect_err("invalid");
    let text = e.to_string();
    assert!(
        text.starts_with("selector \"rack = 'a'\": column 6: "),
        "{text}"
    );
}
