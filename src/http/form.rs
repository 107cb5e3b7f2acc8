//! `application/x-www-form-urlencoded`: query strings and HTML form bodies.

/// Decode `a=1&b=x%20y` into pairs ('+' is a space).
pub fn parse(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            (decode(key), decode(value))
        })
        .collect()
}

/// The first value of `name`.
pub fn get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() && bytes[i + 1].is_ascii_hexdigit() && bytes[i + 2].is_ascii_hexdigit() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("two ASCII hex digits");
                out.push(u8::from_str_radix(hex, 16).expect("two hex digits make a byte"));
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_plus_and_broken_escapes() {
        let pairs = parse("token=a%2Bb&x=c+d&bad=%zz&tail=%4");
        assert_eq!(get(&pairs, "token"), Some("a+b"));
        assert_eq!(get(&pairs, "x"), Some("c d"));
        assert_eq!(get(&pairs, "bad"), Some("%zz"));
        assert_eq!(get(&pairs, "tail"), Some("%4"));
        assert_eq!(get(&pairs, "none"), None);
    }
}
