//! The hand-written declarations in src/lib.rs match include/seqvid.h exactly: every C
//! prototype is translated to the Rust spelling expected in lib.rs (names, parameter names,
//! types, constness) and every enum constant to `pub const NAME: c_int = VALUE;`.
//! The header is found at $SEQVID_HEADER or ../../../include/seqvid.h (the source tree).
use std::collections::BTreeMap;
use std::path::PathBuf;

fn header_text() -> Option<String> {
    let candidates: Vec<PathBuf> = std::env::var_os("SEQVID_HEADER")
        .map(PathBuf::from)
        .into_iter()
        .chain(std::iter::once(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../include/seqvid.h"),
        ))
        .collect();
    candidates
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
}

fn strip_comments(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        match rest[i..].find("*/") {
            Some(j) => rest = &rest[i + j + 2..],
            None => panic!("unterminated comment"),
        }
        out.push(' ');
    }
    out.push_str(rest);
    out.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Top-level C declarations of the header, whitespace collapsed.
fn c_declarations(header: &str) -> Vec<String> {
    let text = strip_comments(header).replace("\\\n", " ");
    let text: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("extern \"C\" {", " ")
        .replace("SEQVID_API", " ");
    let mut decls = Vec::new();
    let (mut depth, mut cur) = (0i32, String::new());
    for ch in text.chars() {
        match ch {
            '{' => depth += 1,
            '}' if depth == 0 => continue, // the closing brace of extern "C"
            '}' => depth -= 1,
            _ => {}
        }
        cur.push(ch);
        if ch == ';' && depth == 0 {
            decls.push(cur.split_whitespace().collect::<Vec<_>>().join(" "));
            cur.clear();
        }
    }
    assert!(cur.trim().is_empty(), "trailing text in header: {cur}");
    decls
}

fn rust_base(c: &str) -> String {
    match c {
        "int" => "c_int",
        "float" => "c_float",
        "double" => "c_double",
        "char" => "c_char",
        "void" => "c_void",
        "size_t" => "usize",
        "uint64_t" => "u64",
        other if other.starts_with("seqvid_") => other,
        other => panic!("no Rust spelling for C type {other:?}"),
    }
    .to_string()
}

/// "const char **" -> "*mut *const c_char" (only leading const occurs in the header).
fn rust_type(c: &str) -> String {
    let stars = c.matches('*').count();
    let toks: Vec<String> = c
        .replace('*', " ")
        .split_whitespace()
        .map(String::from)
        .collect();
    let is_const = toks.first().map(|t| t == "const").unwrap_or(false);
    let base: Vec<&String> = toks.iter().filter(|t| *t != "const").collect();
    assert_eq!(base.len(), 1, "unexpected C type {c:?}");
    let mut ty = rust_base(base[0]);
    for level in 0..stars {
        let q = if level == 0 && is_const {
            "*const "
        } else {
            "*mut "
        };
        ty = format!("{q}{ty}");
    }
    ty
}

/// "int seqvid_x(const float *data, size_t n);" -> ("seqvid_x", "pub fn seqvid_x(data:
/// *const c_float, n: usize) -> c_int;")
fn expected_rust_fn(decl: &str) -> Option<(String, String)> {
    let open = decl.find('(')?;
    if decl.starts_with("typedef") {
        return None;
    }
    let head = decl[..open].trim();
    let name_start = head.rfind(|c: char| !(c.is_alphanumeric() || c == '_'))? + 1;
    let name = &head[name_start..];
    let ret = head[..name_start].trim();
    let params = decl[open + 1..decl.rfind(')')?].trim();
    let mut rparams = Vec::new();
    if params != "void" {
        for p in params.split(',') {
            let p = p.trim();
            let split = p
                .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap()
                + 1;
            let name = &p[split..];
            // C parameter names that are Rust keywords are spelled raw.
            let name = if [
                "gen", "type", "ref", "box", "move", "match", "fn", "in", "loop",
            ]
            .contains(&name)
            {
                format!("r#{name}")
            } else {
                name.to_string()
            };
            rparams.push(format!("{name}: {}", rust_type(&p[..split])));
        }
    }
    let ret = if ret == "void" {
        String::new()
    } else {
        format!(" -> {}", rust_type(ret))
    };
    Some((
        name.to_string(),
        format!("pub fn {name}({}){ret};", rparams.join(", ")),
    ))
}

/// Enum constants of the header: name -> value (implicit values counted on).
fn c_constants(decls: &[String]) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for d in decls.iter().filter(|d| d.starts_with("typedef enum")) {
        let body = &d[d.find('{').unwrap() + 1..d.rfind('}').unwrap()];
        let mut next = 0i64;
        for item in body.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, value) = match item.split_once('=') {
                Some((n, v)) => (n.trim(), v.trim().parse::<i64>().expect("enum value")),
                None => (item, next),
            };
            out.insert(name.to_string(), value);
            next = value + 1;
        }
    }
    out
}

fn rust_source() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs")).unwrap()
}

/// `pub fn` declarations of the extern block, normalised: name -> "pub fn name(..) -> R;".
fn rust_fns(src: &str) -> BTreeMap<String, String> {
    let start = src.find("unsafe extern \"C\" {").expect("extern block");
    let block = strip_comments(&src[start..]);
    let mut out = BTreeMap::new();
    for chunk in block.split("pub fn ").skip(1) {
        let decl = &chunk[..chunk.find(';').unwrap() + 1];
        let decl = decl.split_whitespace().collect::<Vec<_>>().join(" ");
        let decl = decl
            .replace("( ", "(")
            .replace(", )", ")")
            .replace(",)", ")");
        let name = decl[..decl.find('(').unwrap()].to_string();
        out.insert(name, format!("pub fn {decl}"));
    }
    out
}

fn rust_consts(src: &str) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for line in src.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("pub const ") {
            let (name, rest) = rest.split_once(':').unwrap();
            let value = rest
                .split_once('=')
                .map(|(_, v)| v.trim().trim_end_matches(';'));
            if let Some(Ok(v)) = value.map(str::parse::<i64>) {
                out.insert(name.trim().to_string(), v);
            }
        }
    }
    out
}

#[test]
fn functions_match_header() {
    let Some(header) = header_text() else {
        eprintln!("skipped: seqvid.h not found (set SEQVID_HEADER)");
        return;
    };
    let want: BTreeMap<String, String> = c_declarations(&header)
        .iter()
        .filter_map(|d| expected_rust_fn(d))
        .collect();
    assert!(want.len() > 50, "too few prototypes parsed: {}", want.len());
    let have = rust_fns(&rust_source());
    let mut problems = Vec::new();
    for (name, decl) in &want {
        match have.get(name) {
            None => problems.push(format!("missing in lib.rs: {decl}")),
            Some(h) if h != decl => problems.push(format!("differs:\n  want {decl}\n  have {h}")),
            _ => {}
        }
    }
    for name in have.keys().filter(|n| !want.contains_key(*n)) {
        problems.push(format!("not in the header: {name}"));
    }
    assert!(
        problems.is_empty(),
        "seqvid-sys and seqvid.h differ:\n{}",
        problems.join("\n")
    );
}

#[test]
fn constants_match_header() {
    let Some(header) = header_text() else {
        eprintln!("skipped: seqvid.h not found (set SEQVID_HEADER)");
        return;
    };
    let want = c_constants(&c_declarations(&header));
    let have = rust_consts(&rust_source());
    for (name, value) in &want {
        assert_eq!(have.get(name), Some(value), "constant {name}");
    }
    let major: i64 = header
        .lines()
        .find_map(|l| l.strip_prefix("#define SEQVID_VERSION_MAJOR "))
        .expect("SEQVID_VERSION_MAJOR")
        .trim()
        .parse()
        .unwrap();
    assert_eq!(major, seqvid_sys::SEQVID_VERSION_MAJOR as i64);
}

#[test]
fn linked_library_has_this_major_version() {
    let n = unsafe { seqvid_sys::seqvid_version_number() };
    assert_eq!(n / 10000, seqvid_sys::SEQVID_VERSION_MAJOR);
}
