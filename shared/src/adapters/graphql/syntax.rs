//! Syntax errors as graphql-js 16 words and places them, which Directus clients see
//! (`Syntax Error: Expected Name, found <EOF>.`), for a document async-graphql refused.
//!
//! async-graphql's parser (pest) and apollo-parser's (error-recovering) both stop at other
//! places and with other words than graphql-js, whose message depends on what its recursive
//! descent expected at the failing token (`{c 1}` is `Expected ":", found Int "1".` in an object
//! value, `{ a(` is `Expected Name, found <EOF>.`). So the document is followed here the way
//! graphql-js' `Parser` does, over apollo-parser's tokens, only to name the first error; the
//! document itself is parsed by async-graphql. Strings, numbers and any token apollo-parser
//! cannot lex are read again with graphql-js' lexer rules, for its message and position.
//! Positions are graphql-js': lines split at `\r\n`, `\n` or `\r`, columns counted in UTF-16
//! code units. The token limit (`maxTokens`) is counted as graphql-js counts it, so a document
//! over it gets the error graphql-js meets first.
//!
//! Type system definitions (`type Query { … }`, which graphql-js parses and then refuses as not
//! executable) and documents nested deeper than [`MAX_NESTING`] are not followed: `None`.

use apollo_parser::{Lexer, TokenKind};
use async_graphql::Pos;

/// Nesting (selection sets, list and object values, list types) followed before giving up, so
/// that a hostile document cannot exhaust the stack here (256 levels take under 512 KiB in a
/// debug build; a tokio worker has 2 MiB). async-graphql executes nothing nested deeper than 64.
const MAX_NESTING: usize = 256;

/// A syntax error: graphql-js' message (with its `Syntax Error: ` prefix) and position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    pub at: Pos,
}

/// The first syntax error graphql-js' `parse(document, { maxTokens })` throws, or None when its
/// grammar accepts `document` (or the document is not followed: see the module's note).
pub fn first_error(document: &str, max_tokens: Option<usize>) -> Option<SyntaxError> {
    let mut parser = Parser {
        source: document,
        lexer: Lexer::new(document),
        token: Token {
            kind: TokenKind::Eof,
            data: "",
            start: 0,
        },
        ahead: None,
        ended: false,
        counted: 0,
        max_tokens,
        nesting: 0,
    };
    match parser.document() {
        Ok(()) | Err(Stop::NotFollowed) => None,
        Err(Stop::Error { offset, message }) => Some(SyntaxError {
            message: format!("Syntax Error: {message}"),
            at: position(document, offset),
        }),
    }
}

/// graphql-js' `getLocation`: 1-based line and UTF-16 column of the byte `offset`.
pub fn position(source: &str, offset: usize) -> Pos {
    let before = &source[..offset.min(source.len())];
    let mut line = 1;
    let mut line_start = 0;
    let mut chars = before.char_indices().peekable();
    while let Some((index, c)) = chars.next() {
        match c {
            '\r' if chars.peek().is_some_and(|(_, next)| *next == '\n') => {}
            '\r' | '\n' => {
                line += 1;
                line_start = index + 1;
            }
            _ => {}
        }
    }
    let column = before[line_start..].encode_utf16().count() + 1;
    Pos { line, column }
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: TokenKind,
    /// The token's text as written (strings with their quotes and escapes).
    data: &'a str,
    /// Byte offset in the document.
    start: usize,
}

enum Stop {
    /// What graphql-js throws: byte offset in the document, message without the prefix.
    Error { offset: usize, message: String },
    /// Not followed here (see the module's note).
    NotFollowed,
}

type Step<T = ()> = Result<T, Stop>;

fn error(offset: usize, message: impl Into<String>) -> Stop {
    Stop::Error {
        offset,
        message: message.into(),
    }
}

/// graphql-js' `Parser`, for executable documents, keeping nothing but the first error.
struct Parser<'a> {
    source: &'a str,
    lexer: Lexer<'a>,
    /// The current token (graphql-js' `lexer.token`).
    token: Token<'a>,
    /// The token after it, once `lookahead` has read it.
    ahead: Option<Token<'a>>,
    /// The end of the document was read: reading again answers it again.
    ended: bool,
    /// Tokens advanced to, as graphql-js counts them for `maxTokens`.
    counted: usize,
    max_tokens: Option<usize>,
    nesting: usize,
}

impl<'a> Parser<'a> {
    // Tokens.

    /// The next token that is not ignored (whitespace, commas, comments); a token apollo-parser
    /// cannot lex is graphql-js' lexer error.
    fn read(&mut self) -> Step<Token<'a>> {
        loop {
            let next = if self.ended { None } else { self.lexer.next() };
            match next {
                Some(Ok(token)) => match token.kind() {
                    TokenKind::Whitespace | TokenKind::Comment | TokenKind::Comma => {}
                    TokenKind::Eof => break,
                    kind => {
                        // apollo-parser lets a string begin with a line terminator; graphql-js
                        // does not. Strings and numbers are read again by its rules.
                        if matches!(
                            kind,
                            TokenKind::StringValue | TokenKind::Int | TokenKind::Float
                        ) {
                            graphql_js_lexing(self.source, token.index())?;
                        }
                        return Ok(Token {
                            kind,
                            data: token.data(),
                            start: token.index(),
                        });
                    }
                },
                Some(Err(failed)) => {
                    // Read without error by graphql-js' rules: apollo-parser disagrees, and
                    // the error is not named here.
                    let named = graphql_js_lexing(self.source, failed.index()).err();
                    return Err(named.unwrap_or(Stop::NotFollowed));
                }
                None => break,
            }
        }
        self.ended = true;
        Ok(Token {
            kind: TokenKind::Eof,
            data: "",
            start: self.source.len(),
        })
    }

    /// graphql-js' `advanceLexer`: the next token, counted against `maxTokens`.
    fn advance(&mut self) -> Step {
        let token = match self.ahead.take() {
            Some(token) => token,
            None => self.read()?,
        };
        self.token = token;
        if token.kind != TokenKind::Eof {
            self.counted += 1;
            if let Some(max) = self.max_tokens
                && self.counted > max
            {
                return Err(error(
                    token.start,
                    format!("Document contains more that {max} tokens. Parsing aborted."),
                ));
            }
        }
        Ok(())
    }

    /// The token after the current one, without advancing (graphql-js' `lexer.lookahead`).
    fn lookahead(&mut self) -> Step<Token<'a>> {
        if let Some(token) = self.ahead {
            return Ok(token);
        }
        let token = self.read()?;
        self.ahead = Some(token);
        Ok(token)
    }

    fn peek(&self, kind: TokenKind) -> bool {
        self.token.kind == kind
    }

    fn expect(&mut self, kind: TokenKind) -> Step {
        if self.peek(kind) {
            return self.advance();
        }
        Err(error(
            self.token.start,
            format!(
                "Expected {}, found {}.",
                kind_description(kind),
                self.description(self.token)
            ),
        ))
    }

    fn optional(&mut self, kind: TokenKind) -> Step<bool> {
        if self.peek(kind) {
            self.advance()?;
            return Ok(true);
        }
        Ok(false)
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        self.token.kind == TokenKind::Name && self.token.data == keyword
    }

    fn expect_keyword(&mut self, keyword: &str) -> Step {
        if self.is_keyword(keyword) {
            return self.advance();
        }
        Err(error(
            self.token.start,
            format!(
                "Expected \"{keyword}\", found {}.",
                self.description(self.token)
            ),
        ))
    }

    fn optional_keyword(&mut self, keyword: &str) -> Step<bool> {
        if self.is_keyword(keyword) {
            self.advance()?;
            return Ok(true);
        }
        Ok(false)
    }

    fn unexpected(&self, token: Token<'a>) -> Stop {
        error(
            token.start,
            format!("Unexpected {}.", self.description(token)),
        )
    }

    /// graphql-js' `getTokenDesc`.
    fn description(&self, token: Token<'a>) -> String {
        match token_value(token) {
            Some(value) => format!("{} \"{value}\"", kind_description_of(token)),
            None => kind_description_of(token).to_owned(),
        }
    }

    /// One level deeper, within `MAX_NESTING`.
    fn nested(&mut self, parse: impl FnOnce(&mut Self) -> Step) -> Step {
        if self.nesting >= MAX_NESTING {
            return Err(Stop::NotFollowed);
        }
        self.nesting += 1;
        let parsed = parse(self);
        self.nesting -= 1;
        parsed
    }

    /// `many`: `open`, one item or more, `close`.
    fn many(&mut self, open: TokenKind, item: fn(&mut Self) -> Step, close: TokenKind) -> Step {
        self.expect(open)?;
        loop {
            item(self)?;
            if self.optional(close)? {
                return Ok(());
            }
        }
    }

    /// `optionalMany`: nothing, or `open`, one item or more, `close`.
    fn optional_many(
        &mut self,
        open: TokenKind,
        item: fn(&mut Self) -> Step,
        close: TokenKind,
    ) -> Step {
        if self.optional(open)? {
            loop {
                item(self)?;
                if self.optional(close)? {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// `any`: `open`, any number of items, `close`.
    fn any(&mut self, open: TokenKind, item: impl Fn(&mut Self) -> Step, close: TokenKind) -> Step {
        self.expect(open)?;
        while !self.optional(close)? {
            item(self)?;
        }
        Ok(())
    }

    // The grammar, as graphql-js' parser.ts follows it.

    fn document(&mut self) -> Step {
        // `many(SOF, parseDefinition, EOF)`: expecting the start of the file reads the first token.
        self.advance()?;
        loop {
            self.definition()?;
            if self.optional(TokenKind::Eof)? {
                return Ok(());
            }
        }
    }

    fn definition(&mut self) -> Step {
        if self.peek(TokenKind::LCurly) {
            return self.operation_definition();
        }
        let has_description = self.peek(TokenKind::StringValue);
        let keyword = if has_description {
            self.lookahead()?
        } else {
            self.token
        };
        if keyword.kind == TokenKind::Name {
            if matches!(
                keyword.data,
                "schema"
                    | "scalar"
                    | "type"
                    | "interface"
                    | "union"
                    | "enum"
                    | "input"
                    | "directive"
            ) {
                return Err(Stop::NotFollowed);
            }
            if has_description {
                return Err(error(
                    self.token.start,
                    "Unexpected description, descriptions are supported only on type definitions.",
                ));
            }
            match keyword.data {
                "query" | "mutation" | "subscription" => return self.operation_definition(),
                "fragment" => return self.fragment_definition(),
                "extend" => return Err(Stop::NotFollowed),
                _ => {}
            }
        }
        Err(self.unexpected(keyword))
    }

    fn operation_definition(&mut self) -> Step {
        if self.peek(TokenKind::LCurly) {
            return self.selection_set();
        }
        let operation = self.token;
        self.expect(TokenKind::Name)?;
        if !matches!(operation.data, "query" | "mutation" | "subscription") {
            return Err(self.unexpected(operation));
        }
        if self.peek(TokenKind::Name) {
            self.advance()?;
        }
        self.optional_many(
            TokenKind::LParen,
            Self::variable_definition,
            TokenKind::RParen,
        )?;
        self.directives(false)?;
        self.selection_set()
    }

    fn variable_definition(&mut self) -> Step {
        self.variable()?;
        self.expect(TokenKind::Colon)?;
        self.type_reference()?;
        if self.optional(TokenKind::Eq)? {
            self.value(true)?;
        }
        self.directives(true)
    }

    fn variable(&mut self) -> Step {
        self.expect(TokenKind::Dollar)?;
        self.expect(TokenKind::Name)
    }

    fn selection_set(&mut self) -> Step {
        self.nested(|parser| parser.many(TokenKind::LCurly, Self::selection, TokenKind::RCurly))
    }

    fn selection(&mut self) -> Step {
        if self.peek(TokenKind::Spread) {
            self.fragment()
        } else {
            self.field()
        }
    }

    fn field(&mut self) -> Step {
        self.expect(TokenKind::Name)?;
        if self.optional(TokenKind::Colon)? {
            self.expect(TokenKind::Name)?;
        }
        self.arguments(false)?;
        self.directives(false)?;
        if self.peek(TokenKind::LCurly) {
            self.selection_set()?;
        }
        Ok(())
    }

    fn arguments(&mut self, constant: bool) -> Step {
        let item = if constant {
            Self::constant_argument
        } else {
            Self::argument
        };
        self.optional_many(TokenKind::LParen, item, TokenKind::RParen)
    }

    fn argument(&mut self) -> Step {
        self.expect(TokenKind::Name)?;
        self.expect(TokenKind::Colon)?;
        self.value(false)
    }

    fn constant_argument(&mut self) -> Step {
        self.expect(TokenKind::Name)?;
        self.expect(TokenKind::Colon)?;
        self.value(true)
    }

    fn fragment(&mut self) -> Step {
        self.expect(TokenKind::Spread)?;
        let has_type_condition = self.optional_keyword("on")?;
        if !has_type_condition && self.peek(TokenKind::Name) {
            self.fragment_name()?;
            return self.directives(false);
        }
        if has_type_condition {
            self.expect(TokenKind::Name)?;
        }
        self.directives(false)?;
        self.selection_set()
    }

    fn fragment_definition(&mut self) -> Step {
        self.expect_keyword("fragment")?;
        self.fragment_name()?;
        self.expect_keyword("on")?;
        self.expect(TokenKind::Name)?;
        self.directives(false)?;
        self.selection_set()
    }

    fn fragment_name(&mut self) -> Step {
        // graphql-js compares the token's value, whatever its kind (a string "on" too).
        if token_value(self.token).as_deref() == Some("on") {
            return Err(self.unexpected(self.token));
        }
        self.expect(TokenKind::Name)
    }

    fn value(&mut self, constant: bool) -> Step {
        let token = self.token;
        match token.kind {
            TokenKind::LBracket => self.nested(|parser| {
                parser.any(
                    TokenKind::LBracket,
                    |parser| parser.value(constant),
                    TokenKind::RBracket,
                )
            }),
            TokenKind::LCurly => self.nested(|parser| {
                parser.any(
                    TokenKind::LCurly,
                    |parser| parser.object_field(constant),
                    TokenKind::RCurly,
                )
            }),
            TokenKind::Int | TokenKind::Float | TokenKind::StringValue | TokenKind::Name => {
                self.advance()
            }
            TokenKind::Dollar if constant => {
                self.expect(TokenKind::Dollar)?;
                if self.peek(TokenKind::Name) {
                    return Err(error(
                        token.start,
                        format!(
                            "Unexpected variable \"${}\" in constant value.",
                            self.token.data
                        ),
                    ));
                }
                Err(self.unexpected(token))
            }
            TokenKind::Dollar => self.variable(),
            _ => Err(self.unexpected(token)),
        }
    }

    fn object_field(&mut self, constant: bool) -> Step {
        self.expect(TokenKind::Name)?;
        self.expect(TokenKind::Colon)?;
        self.value(constant)
    }

    fn directives(&mut self, constant: bool) -> Step {
        while self.peek(TokenKind::At) {
            self.expect(TokenKind::At)?;
            self.expect(TokenKind::Name)?;
            self.arguments(constant)?;
        }
        Ok(())
    }

    fn type_reference(&mut self) -> Step {
        if self.optional(TokenKind::LBracket)? {
            self.nested(Self::type_reference)?;
            self.expect(TokenKind::RBracket)?;
        } else {
            self.expect(TokenKind::Name)?;
        }
        self.optional(TokenKind::Bang)?;
        Ok(())
    }
}

fn is_block_string(token: Token<'_>) -> bool {
    token.kind == TokenKind::StringValue && token.data.starts_with("\"\"\"")
}

/// graphql-js' `getTokenKindDesc` of a token.
fn kind_description_of(token: Token<'_>) -> &'static str {
    if is_block_string(token) {
        "BlockString"
    } else {
        kind_description(token.kind)
    }
}

/// graphql-js' `getTokenKindDesc`: punctuators quoted, other kinds by name.
fn kind_description(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Bang => "\"!\"",
        TokenKind::Dollar => "\"$\"",
        TokenKind::Amp => "\"&\"",
        TokenKind::Spread => "\"...\"",
        TokenKind::Colon => "\":\"",
        TokenKind::Eq => "\"=\"",
        TokenKind::At => "\"@\"",
        TokenKind::LParen => "\"(\"",
        TokenKind::RParen => "\")\"",
        TokenKind::LBracket => "\"[\"",
        TokenKind::RBracket => "\"]\"",
        TokenKind::LCurly => "\"{\"",
        TokenKind::RCurly => "\"}\"",
        TokenKind::Pipe => "\"|\"",
        TokenKind::Eof => "<EOF>",
        TokenKind::Name => "Name",
        TokenKind::Int => "Int",
        TokenKind::Float => "Float",
        TokenKind::StringValue => "String",
        // Ignored tokens never reach the parser.
        TokenKind::Whitespace | TokenKind::Comment | TokenKind::Comma => "<ignored>",
    }
}

/// graphql-js' `token.value`: names and numbers as written, strings decoded, none for
/// punctuators and the end of the document.
fn token_value(token: Token<'_>) -> Option<String> {
    match token.kind {
        TokenKind::Name | TokenKind::Int | TokenKind::Float => Some(token.data.to_owned()),
        TokenKind::StringValue if is_block_string(token) => Some(block_string_value(token.data)),
        TokenKind::StringValue => Some(string_value(token.data)),
        _ => None,
    }
}

/// The value of a string apollo-parser lexed (so its escapes are valid).
fn string_value(data: &str) -> String {
    let inner = data
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(data);
    let mut value = String::with_capacity(inner.len());
    let mut units: Vec<u16> = Vec::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            value.push(c);
            continue;
        }
        match chars.next() {
            Some('b') => value.push('\u{8}'),
            Some('f') => value.push('\u{c}'),
            Some('n') => value.push('\n'),
            Some('r') => value.push('\r'),
            Some('t') => value.push('\t'),
            Some('u') => {
                let code = if chars.peek() == Some(&'{') {
                    chars.next();
                    let hex: String = chars.by_ref().take_while(|c| *c != '}').collect();
                    u32::from_str_radix(&hex, 16).unwrap_or(0xFFFD)
                } else {
                    let hex: String = chars.by_ref().take(4).collect();
                    u32::from_str_radix(&hex, 16).unwrap_or(0xFFFD)
                };
                match char::from_u32(code) {
                    Some(c) => value.push(c),
                    // One half of a surrogate pair (`\uD83D\uDE00`): decoded with the other.
                    None => {
                        units.push(code as u16);
                        if units.len() == 2 {
                            value.push_str(&String::from_utf16_lossy(&units));
                            units.clear();
                        }
                    }
                }
            }
            Some(other) => value.push(other),
            None => {}
        }
    }
    value
}

/// graphql-js' block string value: `\"""` unescaped, lines split at line terminators, common
/// indentation (of every line but the first) and blank leading and trailing lines removed.
fn block_string_value(data: &str) -> String {
    let inner = data
        .strip_prefix("\"\"\"")
        .and_then(|rest| rest.strip_suffix("\"\"\""))
        .unwrap_or(data)
        .replace("\\\"\"\"", "\"\"\"");
    let lines: Vec<&str> = inner
        .split("\r\n")
        .flat_map(|l| l.split(['\n', '\r']))
        .collect();
    let indent = |line: &str| line.len() - line.trim_start_matches([' ', '\t']).len();
    let blank = |line: &str| indent(line) == line.len();
    let common = lines
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(_, line)| !blank(line))
        .map(|(_, line)| indent(line))
        .min()
        .unwrap_or(usize::MAX);
    let first = lines.iter().position(|line| !blank(line));
    let last = lines.iter().rposition(|line| !blank(line));
    let (Some(first), Some(last)) = (first, last) else {
        return String::new();
    };
    lines[first..=last]
        .iter()
        .enumerate()
        .map(|(i, line)| {
            if i + first == 0 {
                *line
            } else {
                &line[common.min(line.len())..]
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The token starting at byte `start` read with graphql-js' lexer rules (`readNextToken` and
/// the functions it calls): its error says what is wrong and where.
fn graphql_js_lexing(source: &str, start: usize) -> Result<(), Stop> {
    let rest = &source[start..];
    let Some(first) = rest.chars().next() else {
        return Ok(());
    };
    match first {
        '"' if rest.starts_with("\"\"\"") => read_block_string(source, start),
        '"' => read_string(source, start),
        '-' | '0'..='9' => read_number(source, start),
        '\'' => Err(error(
            start,
            "Unexpected single quote character ('), did you mean to use a double quote (\")?",
        )),
        // What apollo-parser lexes as a name or a punctuator is one for graphql-js too (a
        // `.` not followed by two more is not a spread, and falls here).
        _ => Err(error(
            start,
            format!("Unexpected character: {}.", print_char_at(source, start)),
        )),
    }
}

/// graphql-js' `printCodePointAt`: printable ASCII quoted, anything else as `U+XXXX`.
fn print_char_at(source: &str, offset: usize) -> String {
    match source[offset..].chars().next() {
        None => "<EOF>".to_owned(),
        Some('"') => "'\"'".to_owned(),
        Some(c @ ' '..='~') => format!("\"{c}\""),
        Some(c) => format!("U+{:04X}", c as u32),
    }
}

fn char_at(source: &str, offset: usize) -> Option<char> {
    source.get(offset..).and_then(|rest| rest.chars().next())
}

/// The first `units` UTF-16 code units of `source` from `offset`, as graphql-js' `body.slice`.
fn slice_units(source: &str, offset: usize, units: usize) -> String {
    let mut taken = 0;
    source[offset..]
        .chars()
        .take_while(|c| {
            taken += c.len_utf16();
            taken <= units
        })
        .collect()
}

/// `readString`: its first error, if any.
fn read_string(source: &str, start: usize) -> Result<(), Stop> {
    let mut position = start + 1;
    while let Some(c) = char_at(source, position) {
        match c {
            '"' => return Ok(()),
            '\\' => {
                let size = match (char_at(source, position + 1), char_at(source, position + 2)) {
                    (Some('u'), Some('{')) => variable_width_escape(source, position)?,
                    (Some('u'), _) => fixed_width_escape(source, position)?,
                    (Some('"' | '\\' | '/' | 'b' | 'f' | 'n' | 'r' | 't'), _) => 2,
                    _ => {
                        return Err(error(
                            position,
                            format!(
                                "Invalid character escape sequence: \"{}\".",
                                slice_units(source, position, 2)
                            ),
                        ));
                    }
                };
                position += size;
            }
            '\n' | '\r' => break,
            _ => position += c.len_utf8(),
        }
    }
    Err(error(position, "Unterminated string."))
}

fn hex_digit(c: Option<char>) -> i32 {
    c.and_then(|c| c.to_digit(16)).map_or(-1, |d| d as i32)
}

fn is_scalar(code: i32) -> bool {
    (0..=0xD7FF).contains(&code) || (0xE000..=0x10FFFF).contains(&code)
}

/// `readEscapedUnicodeVariableWidth` (`\u{…}`): its size in bytes, or its error.
fn variable_width_escape(source: &str, position: usize) -> Result<usize, Stop> {
    // Every character read is ASCII until one is not a hex digit, which ends the escape.
    let mut point: i32 = 0;
    let mut size = 3;
    while size < 12 {
        let c = char_at(source, position + size);
        size += 1;
        if c == Some('}') {
            if size < 5 || !is_scalar(point) {
                break;
            }
            return Ok(size);
        }
        point = point.wrapping_shl(4) | hex_digit(c);
        if point < 0 {
            break;
        }
    }
    Err(error(
        position,
        format!(
            "Invalid Unicode escape sequence: \"{}\".",
            slice_units(source, position, size)
        ),
    ))
}

/// `readEscapedUnicodeFixedWidth` (`\uXXXX`, or a surrogate pair of two): its size in bytes,
/// or its error.
fn fixed_width_escape(source: &str, position: usize) -> Result<usize, Stop> {
    let code_at = |offset: usize| {
        (0..4).fold(0i32, |code, i| {
            code.wrapping_shl(4) | hex_digit(char_at(source, offset + i))
        })
    };
    let code = code_at(position + 2);
    if is_scalar(code) {
        return Ok(6);
    }
    if (0xD800..=0xDBFF).contains(&code)
        && char_at(source, position + 6) == Some('\\')
        && char_at(source, position + 7) == Some('u')
        && (0xDC00..=0xDFFF).contains(&code_at(position + 8))
    {
        return Ok(12);
    }
    Err(error(
        position,
        format!(
            "Invalid Unicode escape sequence: \"{}\".",
            slice_units(source, position, 6)
        ),
    ))
}

/// `readBlockString`: only an unterminated one can fail in a Rust string (no lone surrogates).
fn read_block_string(source: &str, start: usize) -> Result<(), Stop> {
    let mut position = start + 3;
    while let Some(c) = char_at(source, position) {
        if source[position..].starts_with("\"\"\"") {
            return Ok(());
        }
        if source[position..].starts_with("\\\"\"\"") {
            position += 4;
            continue;
        }
        position += c.len_utf8();
    }
    Err(error(position, "Unterminated string."))
}

/// `readNumber`: its first error, if any.
fn read_number(source: &str, start: usize) -> Result<(), Stop> {
    let digit = |position: usize| char_at(source, position).is_some_and(|c| c.is_ascii_digit());
    let expected_digit = |position: usize| {
        error(
            position,
            format!(
                "Invalid number, expected digit but got: {}.",
                print_char_at(source, position)
            ),
        )
    };
    // `readDigits`: one digit or more.
    let digits = |position: usize| -> Result<usize, Stop> {
        if !digit(position) {
            return Err(expected_digit(position));
        }
        let mut end = position + 1;
        while digit(end) {
            end += 1;
        }
        Ok(end)
    };
    let mut position = start;
    if char_at(source, position) == Some('-') {
        position += 1;
    }
    if char_at(source, position) == Some('0') {
        position += 1;
        if digit(position) {
            return Err(error(
                position,
                format!(
                    "Invalid number, unexpected digit after 0: {}.",
                    print_char_at(source, position)
                ),
            ));
        }
    } else {
        position = digits(position)?;
    }
    if char_at(source, position) == Some('.') {
        position = digits(position + 1)?;
    }
    if matches!(char_at(source, position), Some('e' | 'E')) {
        position += 1;
        if matches!(char_at(source, position), Some('+' | '-')) {
            position += 1;
        }
        position = digits(position)?;
    }
    match char_at(source, position) {
        Some(c) if c == '.' || c == '_' || c.is_ascii_alphabetic() => Err(expected_digit(position)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// graphql-js 16.9's `parse(document)` error for each document: message, line, column.
    /// (Worked out from graphql-js' lexer.ts and parser.ts, which Directus 11 runs.)
    const CASES: &[(&str, &str, usize, usize)] = &[
        // The end of the document where something was expected.
        ("", "Unexpected <EOF>.", 1, 1),
        ("   ", "Unexpected <EOF>.", 1, 4),
        ("# only a comment\n", "Unexpected <EOF>.", 2, 1),
        ("{", "Expected Name, found <EOF>.", 1, 2),
        ("query {", "Expected Name, found <EOF>.", 1, 8),
        ("{ posts { id }", "Expected Name, found <EOF>.", 1, 15),
        ("{ a(", "Expected Name, found <EOF>.", 1, 5),
        ("{ a(b: 1", "Expected Name, found <EOF>.", 1, 9),
        ("{ a(b:", "Unexpected <EOF>.", 1, 7),
        ("query", "Expected \"{\", found <EOF>.", 1, 6),
        ("query Q", "Expected \"{\", found <EOF>.", 1, 8),
        ("{ ...", "Expected \"{\", found <EOF>.", 1, 6),
        ("fragment F", "Expected \"on\", found <EOF>.", 1, 11),
        ("{ a(b: [1", "Unexpected <EOF>.", 1, 10),
        // A token where another was expected.
        ("{ a } }", "Unexpected \"}\".", 1, 7),
        ("{ a }}", "Unexpected \"}\".", 1, 6),
        ("{ }", "Expected Name, found \"}\".", 1, 3),
        ("mutation { x(a: ) }", "Unexpected \")\".", 1, 17),
        ("{ a(b: ) }", "Unexpected \")\".", 1, 8),
        ("{ a(b 1) }", "Expected \":\", found Int \"1\".", 1, 7),
        ("{ a(b: {c 1}) }", "Expected \":\", found Int \"1\".", 1, 11),
        ("{ a(b: {c: 1) }", "Expected Name, found \")\".", 1, 13),
        ("{ a(b: [1, 2) }", "Unexpected \")\".", 1, 13),
        ("{ a: }", "Expected Name, found \"}\".", 1, 6),
        ("{ a @ }", "Expected Name, found \"}\".", 1, 7),
        ("{ a(b: $) }", "Expected Name, found \")\".", 1, 9),
        ("{ ... on }", "Expected Name, found \"}\".", 1, 10),
        ("{ a { b } c(", "Expected Name, found <EOF>.", 1, 13),
        ("foo", "Unexpected Name \"foo\".", 1, 1),
        ("foo { a }", "Unexpected Name \"foo\".", 1, 1),
        // After a description graphql-js looks at the next token.
        ("\"abc\" { a }", "Unexpected \"{\".", 1, 7),
        ("\"a\" \"b\"", "Unexpected String \"b\".", 1, 5),
        (
            "\"describes\" query { a }",
            "Unexpected description, descriptions are supported only on type definitions.",
            1,
            1,
        ),
        ("12 { a }", "Unexpected Int \"12\".", 1, 1),
        ("{ a } 1.5", "Unexpected Float \"1.5\".", 1, 7),
        ("{ a } \"x\"", "Unexpected <EOF>.", 1, 10),
        (
            "{ \"x\\ty\" }",
            "Expected Name, found String \"x\ty\".",
            1,
            3,
        ),
        (
            "{ \"\"\"\n    block\n      string\n\"\"\" }",
            "Expected Name, found BlockString \"block\n  string\".",
            1,
            3,
        ),
        (
            "fragment \"on\" on X { a }",
            "Unexpected String \"on\".",
            1,
            10,
        ),
        ("{ a } [", "Unexpected \"[\".", 1, 7),
        ("{ a } $", "Unexpected \"$\".", 1, 7),
        ("{ a } ...", "Unexpected \"...\".", 1, 7),
        (
            "query Q(a: Int) { a }",
            "Expected \"$\", found Name \"a\".",
            1,
            9,
        ),
        (
            "query Q($a Int) { a }",
            "Expected \":\", found Name \"Int\".",
            1,
            12,
        ),
        ("query Q($a: ) { a }", "Expected Name, found \")\".", 1, 13),
        (
            "query Q($a: [Int) { a }",
            "Expected \"]\", found \")\".",
            1,
            17,
        ),
        (
            "query Q($a: Int = $b) { a }",
            "Unexpected variable \"$b\" in constant value.",
            1,
            19,
        ),
        ("query Q($a: Int = $) { a }", "Unexpected \"$\".", 1, 19),
        (
            "query Q($a: Int @skip(if: $b)) { a }",
            "Unexpected variable \"$b\" in constant value.",
            1,
            27,
        ),
        ("query Q() { a }", "Expected \"$\", found \")\".", 1, 9),
        (
            "subscriptions { a }",
            "Unexpected Name \"subscriptions\".",
            1,
            1,
        ),
        ("fragment on on X { a }", "Unexpected Name \"on\".", 1, 10),
        (
            "fragment F X { a }",
            "Expected \"on\", found Name \"X\".",
            1,
            12,
        ),
        ("fragment F on { a }", "Expected Name, found \"{\".", 1, 15),
        ("{ ...on }", "Expected Name, found \"}\".", 1, 9),
        ("{ a(b: 1) (c: 2) }", "Expected Name, found \"(\".", 1, 11),
        ("{ a\n  b(\n    c: ) }", "Unexpected \")\".", 3, 8),
        ("{ a }\r\n}", "Unexpected \"}\".", 2, 1),
        ("{ a }\r}", "Unexpected \"}\".", 2, 1),
        // Columns count UTF-16 code units, as JavaScript strings do.
        ("{ a(b: \"é😀\") ) }", "Expected Name, found \")\".", 1, 15),
        // Lexing.
        ("\"abc", "Unterminated string.", 1, 5),
        ("{ a(b: \"abc) }", "Unterminated string.", 1, 15),
        ("{ a(b: \"x\ny\") }", "Unterminated string.", 1, 10),
        // apollo-parser lexes these two as strings.
        ("{ a(b: \"\ny\") }", "Unterminated string.", 1, 9),
        ("{ a(b: \"\r\") }", "Unterminated string.", 1, 9),
        ("{ a(b: \"\"\"abc) }", "Unterminated string.", 1, 17),
        (
            "{ a(b: \"\\q\") }",
            "Invalid character escape sequence: \"\\q\".",
            1,
            9,
        ),
        (
            "{ a(b: \"\\u12\") }",
            "Invalid Unicode escape sequence: \"\\u12\")\".",
            1,
            9,
        ),
        (
            "{ a(b: \"\\uD800\") }",
            "Invalid Unicode escape sequence: \"\\uD800\".",
            1,
            9,
        ),
        (
            "{ a(b: \"\\u{110000}\") }",
            "Invalid Unicode escape sequence: \"\\u{110000}\".",
            1,
            9,
        ),
        (
            "{ a(b: \"\\u{zz}\") }",
            "Invalid Unicode escape sequence: \"\\u{z\".",
            1,
            9,
        ),
        (
            "{ a(b: \"\\uD83D\\uDE00\" c) }",
            "Expected \":\", found \")\".",
            1,
            24,
        ),
        (
            "{ a(b: \"\\u{1F600}\\u00e9\") c( }",
            "Expected Name, found \"}\".",
            1,
            30,
        ),
        (
            "{ a(b: 'x') }",
            "Unexpected single quote character ('), did you mean to use a double quote (\")?",
            1,
            8,
        ),
        ("{ a ? }", "Unexpected character: \"?\".", 1, 5),
        (
            "{ posts { id\u{0} } }",
            "Unexpected character: U+0000.",
            1,
            13,
        ),
        (
            "{ \u{7f}posts { id } }",
            "Unexpected character: U+007F.",
            1,
            3,
        ),
        ("{ é }", "Unexpected character: U+00E9.", 1, 3),
        (
            "{ a(b: \"x\") 😀 }",
            "Unexpected character: U+1F600.",
            1,
            13,
        ),
        ("{ .. }", "Unexpected character: \".\".", 1, 3),
        (
            "{ a(b: 01) }",
            "Invalid number, unexpected digit after 0: \"1\".",
            1,
            9,
        ),
        (
            "{ a(b: 1.) }",
            "Invalid number, expected digit but got: \")\".",
            1,
            10,
        ),
        (
            "{ a(b: 1x) }",
            "Invalid number, expected digit but got: \"x\".",
            1,
            9,
        ),
        (
            "{ a(b: -x) }",
            "Invalid number, expected digit but got: \"x\".",
            1,
            9,
        ),
        (
            "{ a(b: 1.5e) }",
            "Invalid number, expected digit but got: \")\".",
            1,
            12,
        ),
        (
            "{ a(b: 1.5.) }",
            "Invalid number, expected digit but got: \".\".",
            1,
            11,
        ),
        (
            "{ a(b: -",
            "Invalid number, expected digit but got: <EOF>.",
            1,
            9,
        ),
        (
            "{ a(b: 1e",
            "Invalid number, expected digit but got: <EOF>.",
            1,
            10,
        ),
        // A lexing error after a parsing one is never reached.
        ("{ a } } \"abc", "Unexpected \"}\".", 1, 7),
    ];

    #[test]
    fn errors_read_and_sit_where_graphql_js_puts_them() {
        for (document, message, line, column) in CASES {
            let found = first_error(document, None);
            assert_eq!(
                found,
                Some(SyntaxError {
                    message: format!("Syntax Error: {message}"),
                    at: Pos {
                        line: *line,
                        column: *column
                    },
                }),
                "{document:?}"
            );
        }
    }

    #[test]
    fn documents_graphql_js_accepts_have_no_error() {
        for document in [
            "{ a }",
            "query { a }",
            "query Q($a: [Int!]! = [1, 2], $b: String @deprecated) @x { a(b: $a) { c } }",
            "mutation M { a: b(c: {d: [1, 2.5, \"s\", \"\"\"block\"\"\", true, null, E, $v]}) }",
            "{ ...F ... on Q { a } ... @include(if: true) { b } } fragment F on Q { c }",
            "# comment\n{ a, b, c }\n# trailing",
            "\u{feff}{ a }",
            "{ a(b: \"\\u{1F600}\\uD83D\\uDE00\\\"\\\\\\/\\b\\f\\n\\r\\t\") }",
            "{ a(b: -0, c: 0.5e-3, d: 1E+2) }",
        ] {
            assert_eq!(first_error(document, None), None, "{document:?}");
        }
    }

    #[test]
    fn the_token_limit_counts_as_graphql_js_parses() {
        // 7 tokens: within a limit of 7, over a limit of 6 at the 7th (`}`).
        assert_eq!(first_error("{ a { b } c }", Some(7)), None);
        assert_eq!(
            first_error("{ a { b } c }", Some(6)),
            Some(SyntaxError {
                message: "Syntax Error: Document contains more that 6 tokens. Parsing aborted."
                    .into(),
                at: Pos {
                    line: 1,
                    column: 13
                },
            })
        );
        // A syntax error before the limit is reported instead; comments and commas are no
        // tokens.
        assert_eq!(
            first_error(&"[".repeat(10_000), Some(5000)).map(|e| e.message),
            Some("Syntax Error: Unexpected \"[\".".into())
        );
        assert_eq!(first_error("{ a, # b c d\n b }", Some(4)), None);
    }

    #[test]
    fn type_system_definitions_and_deep_nesting_are_not_followed() {
        assert_eq!(first_error("type Query { a: Int }", None), None);
        assert_eq!(
            first_error("\"described\" type Query { a: Int }", None),
            None
        );
        assert_eq!(first_error("extend type Query { b: Int }", None), None);
        // Deeper than MAX_NESTING: no answer rather than an exhausted stack.
        let deep = format!(
            "{}{}",
            "{ a ".repeat(MAX_NESTING + 1),
            "}".repeat(MAX_NESTING)
        );
        assert_eq!(first_error(&deep, None), None);
        let deep_value = format!("{{ a(b: {}) }}", "[".repeat(100_000));
        assert_eq!(first_error(&deep_value, None), None);
        // Within it, errors are still found.
        let nested = format!(
            "{}{}",
            "{ a ".repeat(MAX_NESTING - 1),
            "}".repeat(MAX_NESTING)
        );
        assert_eq!(
            first_error(&nested, None).map(|e| e.message),
            Some("Syntax Error: Unexpected \"}\".".into())
        );
    }
}
