//! PDF object syntax (ISO 32000-1 §7.3) written out for an incremental update: the few objects
//! `esign` adds or replaces (dictionaries, arrays, names, strings, numbers, references) in a
//! form every reader takes. Strings are written in hex, names with `#xx` escapes, so no byte of
//! the document's text needs quoting rules.

use std::fmt::Write as _;

use lopdf::{Dictionary, Object};

/// `object` in PDF syntax.
pub fn object(object: &Object) -> String {
    let mut out = String::new();
    write_object(&mut out, object);
    out
}

/// `id gen obj … endobj` for `object`.
pub fn indirect(id: (u32, u16), object: &Object) -> String {
    format!("{} {} obj\n{}\nendobj\n", id.0, id.1, self::object(object))
}

fn write_object(out: &mut String, object: &Object) {
    match object {
        Object::Null => out.push_str("null"),
        Object::Boolean(value) => out.push_str(if *value { "true" } else { "false" }),
        Object::Integer(value) => {
            let _ = write!(out, "{value}");
        }
        Object::Real(value) => write_real(out, f64::from(*value)),
        Object::Name(name) => write_name(out, name),
        Object::String(bytes, _) => write_hex_string(out, bytes),
        Object::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_object(out, item);
            }
            out.push(']');
        }
        Object::Dictionary(dictionary) => write_dictionary(out, dictionary),
        Object::Reference((id, generation)) => {
            let _ = write!(out, "{id} {generation} R");
        }
        // esignd never rewrites a stream object: streams it adds are written by `stream()`.
        Object::Stream(stream) => write_dictionary(out, &stream.dict),
    }
}

fn write_dictionary(out: &mut String, dictionary: &Dictionary) {
    out.push_str("<<");
    for (key, value) in dictionary.iter() {
        write_name(out, key);
        out.push(' ');
        write_object(out, value);
    }
    out.push_str(">>");
}

fn write_real(out: &mut String, value: f64) {
    let text = format!("{value:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    out.push_str(if text.is_empty() || text == "-" { "0" } else { text });
}

/// A name: regular characters as they are, every other byte as `#xx` (§7.3.5).
fn write_name(out: &mut String, name: &[u8]) {
    out.push('/');
    for &byte in name {
        let delimiter = b"()<>[]{}/%#".contains(&byte);
        if (0x21..=0x7e).contains(&byte) && !delimiter {
            out.push(byte as char);
        } else {
            let _ = write!(out, "#{byte:02X}");
        }
    }
}

fn write_hex_string(out: &mut String, bytes: &[u8]) {
    out.push('<');
    for byte in bytes {
        let _ = write!(out, "{byte:02X}");
    }
    out.push('>');
}

/// A text string (§7.9.2.2): PDFDocEncoding when ASCII, else UTF-16BE with a BOM.
pub fn text_string(text: &str) -> Object {
    if text.is_ascii() {
        return Object::String(text.as_bytes().to_vec(), lopdf::StringFormat::Hexadecimal);
    }
    let mut bytes = vec![0xFE, 0xFF];
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&unit.to_be_bytes());
    }
    Object::String(bytes, lopdf::StringFormat::Hexadecimal)
}

/// `id 0 obj <<dictionary /Length n>> stream … endstream endobj`.
pub fn stream(id: u32, dictionary: &Dictionary, data: &[u8]) -> Vec<u8> {
    let mut dictionary = dictionary.clone();
    dictionary.set("Length", Object::Integer(data.len() as i64));
    let mut out = format!("{id} 0 obj\n{}\nstream\n", object(&Object::Dictionary(dictionary))).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\nendstream\nendobj\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_written_as_readers_expect() {
        let mut dictionary = Dictionary::new();
        dictionary.set("Type", Object::Name(b"Sig".to_vec()));
        dictionary.set("A b", Object::Array(vec![Object::Integer(-3), Object::Real(1.5), Object::Reference((7, 0))]));
        dictionary.set("T", text_string("Signature1"));
        dictionary.set("N", Object::Null);
        assert_eq!(
            object(&Object::Dictionary(dictionary)),
            "<</Type /Sig/A#20b [-3 1.5 7 0 R]/T <5369676E617475726531>/N null>>"
        );
        assert_eq!(object(&text_string("é")), "<FEFF00E9>");
        assert_eq!(object(&Object::Real(2.0)), "2");
    }
}
