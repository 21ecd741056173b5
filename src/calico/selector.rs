//! Calico's label selector language, as BGPPeer `nodeSelector` / `peerSelector` use it.
//!
//! ```text
//! expr    := and ( "||" and )*
//! and     := unary ( "&&" unary )*
//! unary   := "!" unary | primary
//! primary := "(" expr ")" | "all()" | "has(" label ")" | label op
//! op      := "==" str | "!=" str | "in" set | "not" "in" set
//!          | "contains" str | "starts" "with" str | "ends" "with" str
//! set     := "{" [ str ( "," str )* ] "}"
//! str     := '…' | "…"           label := [A-Za-z0-9_./-]+
//! ```
//!
//! Semantics follow `libcalico-go/lib/selector`: `k == 'v'` needs the label; `k != 'v'` and
//! `k not in {…}` also match when the label is absent. An empty selector matches everything
//! (like `all()`). Anything else (`global()`, other functions, a stray `&`) is an
//! [`Error::Selector`] naming the 1-based column.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use super::Error;

/// A parsed selector. `Display` prints the text it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    source: String,
    expr: Expr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expr {
    All,
    Has(String),
    Eq(String, String),
    Ne(String, String),
    In(String, BTreeSet<String>),
    NotIn(String, BTreeSet<String>),
    Contains(String, String),
    StartsWith(String, String),
    EndsWith(String, String),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

impl Expr {
    fn eval(&self, labels: &BTreeMap<String, String>) -> bool {
        let get = |k: &str| labels.get(k).map(String::as_str);
        match self {
            Expr::All => true,
            Expr::Has(k) => labels.contains_key(k),
            Expr::Eq(k, v) => get(k) == Some(v.as_str()),
            Expr::Ne(k, v) => get(k) != Some(v.as_str()),
            Expr::In(k, set) => get(k).is_some_and(|v| set.contains(v)),
            Expr::NotIn(k, set) => !get(k).is_some_and(|v| set.contains(v)),
            Expr::Contains(k, s) => get(k).is_some_and(|v| v.contains(s.as_str())),
            Expr::StartsWith(k, s) => get(k).is_some_and(|v| v.starts_with(s.as_str())),
            Expr::EndsWith(k, s) => get(k).is_some_and(|v| v.ends_with(s.as_str())),
            Expr::Not(e) => !e.eval(labels),
            Expr::And(a, b) => a.eval(labels) && b.eval(labels),
            Expr::Or(a, b) => a.eval(labels) || b.eval(labels),
        }
    }
}

impl Selector {
    /// Parses `text`. Errors name the column and what was expected there.
    pub fn parse(text: &str) -> Result<Selector, Error> {
        let mut p = Parser {
            text,
            chars: text.chars().collect(),
            pos: 0,
        };
        p.skip_ws();
        let expr = if p.at_end() {
            Expr::All
        } else {
            let e = p.expr()?;
            p.skip_ws();
            if let Some(c) = p.peek() {
                let hint = match c {
                    '&' => "; use && for \"and\"",
                    '|' => "; use || for \"or\"",
                    '=' => "; use == for equality",
                    _ => "",
                };
                return Err(p.err(format!("unexpected {c:?} after a complete selector{hint}")));
            }
            e
        };
        Ok(Selector {
            source: text.to_string(),
            expr,
        })
    }

    /// The selector matching everything.
    pub fn all() -> Selector {
        Selector {
            source: "all()".to_string(),
            expr: Expr::All,
        }
    }

    /// Whether a resource with `labels` is selected.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.expr.eval(labels)
    }

    /// The text it was parsed from.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl FromStr for Selector {
    type Err = Error;

    fn from_str(s: &str) -> Result<Selector, Error> {
        Selector::parse(s)
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

struct Parser<'a> {
    text: &'a str,
    chars: Vec<char>,
    pos: usize,
}

fn is_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-')
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn err(&self, problem: String) -> Error {
        Error::Selector {
            selector: self.text.to_string(),
            column: self.pos + 1,
            problem,
        }
    }

    fn found(&self) -> String {
        match self.peek() {
            None => "the end of the selector".to_string(),
            Some(c) => format!("{c:?}"),
        }
    }

    /// Consumes `s` (after whitespace) if it is next.
    fn eat(&mut self, s: &str) -> bool {
        self.skip_ws();
        let n = s.chars().count();
        let matches = s
            .chars()
            .enumerate()
            .all(|(i, c)| self.peek_at(i) == Some(c));
        if matches {
            self.pos += n;
        }
        matches
    }

    /// Consumes the keyword `word` if it is next and not part of a longer label.
    fn eat_word(&mut self, word: &str) -> bool {
        self.skip_ws();
        let n = word.chars().count();
        let matches = word
            .chars()
            .enumerate()
            .all(|(i, c)| self.peek_at(i) == Some(c))
            && !self.peek_at(n).is_some_and(is_label_char);
        if matches {
            self.pos += n;
        }
        matches
    }

    fn expr(&mut self) -> Result<Expr, Error> {
        let mut left = self.and()?;
        while self.eat("||") {
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, Error> {
        let mut left = self.unary()?;
        while self.eat("&&") {
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, Error> {
        self.skip_ws();
        // `!` but not `!=` (which would be a missing label).
        if self.peek() == Some('!') && self.peek_at(1) != Some('=') {
            self.pos += 1;
            let e = self.unary()?;
            return Ok(Expr::Not(Box::new(e)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, Error> {
        self.skip_ws();
        if self.peek() == Some('(') {
            self.pos += 1;
            let e = self.expr()?;
            if !self.eat(")") {
                return Err(self.err(format!(
                    "expected ')' to close the parenthesis, found {}",
                    self.found()
                )));
            }
            return Ok(e);
        }
        let start = self.pos;
        let label = self.label().ok_or_else(|| {
            self.err(format!(
                "expected a label, has(…), all(), '!' or '(', found {}",
                self.found()
            ))
        })?;
        // A function call: `name(`.
        let before_paren = self.pos;
        self.skip_ws();
        if self.peek() == Some('(') {
            self.pos += 1;
            return match label.as_str() {
                "all" => {
                    if !self.eat(")") {
                        return Err(self.err(format!(
                            "all() takes no argument; expected ')', found {}",
                            self.found()
                        )));
                    }
                    Ok(Expr::All)
                }
                "has" => {
                    self.skip_ws();
                    let k = self.label().ok_or_else(|| {
                        self.err(format!(
                            "expected a label inside has(…), found {}",
                            self.found()
                        ))
                    })?;
                    if !self.eat(")") {
                        return Err(self.err(format!(
                            "expected ')' to close has({k}, found {}",
                            self.found()
                        )));
                    }
                    Ok(Expr::Has(k))
                }
                other => {
                    self.pos = start;
                    Err(self.err(format!(
                        "{other}() is not supported; only all() and has(label) are"
                    )))
                }
            };
        }
        self.pos = before_paren;
        self.operation(label)
    }

    fn operation(&mut self, label: String) -> Result<Expr, Error> {
        if self.eat("==") {
            return Ok(Expr::Eq(label, self.string()?));
        }
        if self.eat("!=") {
            return Ok(Expr::Ne(label, self.string()?));
        }
        if self.eat_word("in") {
            return Ok(Expr::In(label, self.set()?));
        }
        if self.eat_word("not") {
            if !self.eat_word("in") {
                return Err(self.err(format!("expected 'in' after 'not', found {}", self.found())));
            }
            return Ok(Expr::NotIn(label, self.set()?));
        }
        if self.eat_word("contains") {
            return Ok(Expr::Contains(label, self.string()?));
        }
        if self.eat_word("starts") {
            if !self.eat_word("with") {
                return Err(self.err(format!(
                    "expected 'with' after 'starts', found {}",
                    self.found()
                )));
            }
            return Ok(Expr::StartsWith(label, self.string()?));
        }
        if self.eat_word("ends") {
            if !self.eat_word("with") {
                return Err(self.err(format!(
                    "expected 'with' after 'ends', found {}",
                    self.found()
                )));
            }
            return Ok(Expr::EndsWith(label, self.string()?));
        }
        self.skip_ws();
        let hint = match self.peek() {
            Some('=') => " ('=' alone is not an operator; use ==)",
            _ => "",
        };
        Err(self.err(format!(
            "expected an operator after label {label:?} (==, !=, in, not in, contains, starts with, \
             ends with), found {}{hint}",
            self.found()
        )))
    }

    fn label(&mut self) -> Option<String> {
        let mut s = String::new();
        while let Some(c) = self.peek().filter(|c| is_label_char(*c)) {
            s.push(c);
            self.pos += 1;
        }
        (!s.is_empty()).then_some(s)
    }

    fn string(&mut self) -> Result<String, Error> {
        self.skip_ws();
        let quote = match self.peek() {
            Some(q @ ('\'' | '"')) => q,
            _ => {
                return Err(self.err(format!(
                    "expected a quoted string ('…' or \"…\"), found {}",
                    self.found()
                )))
            }
        };
        let open = self.pos;
        self.pos += 1;
        let mut s = String::new();
        loop {
            match self.peek() {
                None => {
                    self.pos = open;
                    return Err(self.err("this string is never closed".to_string()));
                }
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(s);
                }
                Some(c) => {
                    s.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn set(&mut self) -> Result<BTreeSet<String>, Error> {
        if !self.eat("{") {
            return Err(self.err(format!(
                "expected '{{' to start a set of strings, found {}",
                self.found()
            )));
        }
        let mut set = BTreeSet::new();
        if self.eat("}") {
            return Ok(set);
        }
        loop {
            set.insert(self.string()?);
            if self.eat("}") {
                return Ok(set);
            }
            if !self.eat(",") {
                return Err(self.err(format!(
                    "expected ',' or '}}' in the set, found {}",
                    self.found()
                )));
            }
        }
    }
}
